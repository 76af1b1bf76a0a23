"""The step language: parsing, rendering, and the per-question grammar."""

from __future__ import annotations

import pytest

from helpers.apiary import APIARY_CATALOG
from veritask.plan.validation import validate_plan
from veritask.planner.catalog import Catalog
from veritask.planner.examples import closest, toolkit_pairs
from veritask.planner.grammar import build_grammar
from veritask.planner.question_text import question_spans
from veritask.planner.relevance import Relevance
from veritask.planner.steps import StepSyntaxError, canonical, parse_steps, render_steps
from veritask.toolkits.geo import geo

CATALOG = Catalog.from_toolkits([geo])
REG = CATALOG.registry


def grammar_for(question: str) -> str:
    return build_grammar(question, CATALOG, Relevance(CATALOG).asked(question))


def test_parse_maps_positional_args_and_step_refs() -> None:
    plan = parse_steps(
        '1. country_facts("France")\n2. country_facts("Spain")\n'
        '3. calc("$1.population + $2.population")\nAnswer: Together {$3} people.',
        REG,
        goal="q",
    )
    assert [t.id for t in plan.tasks] == ["t1", "t2", "t3"]
    assert plan.tasks[0].args == {"country": "France"}
    assert plan.tasks[2].args == {"expression": "$t1.population + $t2.population"}
    assert plan.answer_template == "Together {$t3} people."
    assert validate_plan(plan, REG) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no steps"),
        ('2. country_facts("France")', "numbered 1"),
        ("1. country_facts(France)", "quoted strings"),
        ("country_facts('France')", "expected 'N. tool"),
    ],
)
def test_parse_errors_say_where(text: str, message: str) -> None:
    with pytest.raises(StepSyntaxError, match=message):
        parse_steps(text, REG)


def test_every_geo_example_validates_and_round_trips_through_the_step_language() -> None:
    for question, plan in geo.plans:
        assert validate_plan(plan, REG) == [], question
        again = parse_steps(render_steps(plan, REG), REG, goal=question)
        assert canonical(again) == canonical(plan)


def test_canonical_ignores_spacing_but_not_arguments() -> None:
    a = parse_steps('1. calc("1 + 2")\nAnswer: {$1}', REG)
    b = parse_steps('1. calc("1+2")\nAnswer: it is {$1}', REG)
    c = parse_steps('1. calc("1 - 2")\nAnswer: {$1}', REG)
    assert canonical(a) == canonical(b) != canonical(c)


def test_question_spans_are_names_from_the_question() -> None:
    spans = question_spans(
        "How far apart are the capitals of Bosnia and Herzegovina and Sri Lanka?"
    )
    assert "Bosnia and Herzegovina" in spans
    assert "Sri Lanka" in spans
    assert "How" not in spans and "the" not in spans


def test_lowercase_question_still_offers_spans() -> None:
    assert "france" in question_spans("what is the population of france")


def test_grammar_only_offers_question_entities_and_earlier_steps() -> None:
    grammar = grammar_for("What is the combined population of France and Spain?")
    ent = next(line for line in grammar.splitlines() if line.startswith("ent ::="))
    assert '"France"' in ent and '"Spain"' in ent and "Chile" not in ent
    ref2 = next(line for line in grammar.splitlines() if line.startswith("ref2 ::="))
    assert '"1"' in ref2 and "[1-2]" not in ref2
    ref3 = next(line for line in grammar.splitlines() if line.startswith("ref3 ::="))
    assert "[1-2]" in ref3
    # Two things named ("France and Spain" is offered whole too, but names no third):
    # two look-ups and the sum, never a fourth step that repeats a look-up.
    assert not any(line.startswith("ref4 ::=") for line in grammar.splitlines())


def test_answer_text_writes_no_digits_of_its_own() -> None:
    grammar = grammar_for("What is the combined population of France and Spain?")
    rules = [line for line in grammar.splitlines() if line.startswith(("text ::=", "word ::="))]
    chars = " ".join(rule.split("::=")[1] for rule in rules)
    assert len(rules) == 2
    assert "[^" not in chars and "0-9" not in chars and "num" not in chars  # letters only
    with_number = grammar_for("How many people live in 3 cities like Osaka?")
    text = next(line for line in with_number.splitlines() if line.startswith("text ::="))
    assert "(num " in text  # the question's own number may be repeated


def test_closest_examples_by_meaning() -> None:
    ((_, (question, _)),) = closest(
        "What is the combined population of Peru and Chile?", toolkit_pairs(CATALOG), 1
    )
    assert "total population" in question


def test_canonical_keeps_apart_plans_that_state_different_fields() -> None:
    looked_up = '1. country_facts("France")\n'
    population = parse_steps(looked_up + "Answer: {$1.population} people", REG)
    worded = parse_steps(looked_up + "Answer: France has {$1.population} inhabitants", REG)
    area = parse_steps(looked_up + "Answer: {$1.area_km2} people", REG)
    assert canonical(population) == canonical(worded)
    assert canonical(population) != canonical(area)


def test_canonical_lets_a_comparison_take_its_two_sides_in_either_order() -> None:
    """Which hive gave more honey, Bramble or Clover? `larger` names the same winner
    whichever side each hive is on, so the two orders vote together; a plan that
    compares other fields, or pairs one hive's name with the other's value, does not."""
    reg = APIARY_CATALOG.registry
    hives = '1. hive("Bramble")\n2. hive("Clover")\n'

    def plan(call: str) -> str:
        return canonical(parse_steps(f"{hives}3. {call}\nAnswer: {{$3}} gave more.", reg))

    bramble_first = plan('larger("$1.colony", "$1.honey_kg", "$2.colony", "$2.honey_kg")')
    clover_first = plan('larger("$2.colony", "$2.honey_kg", "$1.colony", "$1.honey_kg")')
    by_frames = plan('larger("$2.colony", "$2.frames", "$1.colony", "$1.frames")')
    crossed = plan('larger("$1.colony", "$2.honey_kg", "$2.colony", "$1.honey_kg")')
    fewer = plan('smaller("$2.colony", "$2.honey_kg", "$1.colony", "$1.honey_kg")')
    assert bramble_first == clover_first
    assert len({bramble_first, by_frames, crossed, fewer}) == 4
    assert plan('smaller("$1.colony", "$1.honey_kg", "$2.colony", "$2.honey_kg")') == fewer


def test_canonical_keeps_a_difference_in_its_order() -> None:
    reg = APIARY_CATALOG.registry
    hives = '1. hive("Bramble")\n2. hive("Clover")\n'
    ahead = parse_steps(hives + '3. calc("$1.honey_kg - $2.honey_kg")\nAnswer: {$3} kg', reg)
    behind = parse_steps(hives + '3. calc("$2.honey_kg - $1.honey_kg")\nAnswer: {$3} kg', reg)
    assert canonical(ahead) != canonical(behind)
