"""The deep-agent rung may only ground its answer in looked-up values."""

from __future__ import annotations

from veritask.pipeline.deep_agent import sourced
from veritask.types import Confidence, ConfidenceMethod, Outcome, OutcomeStatus, Source

TOOL = Confidence(score=1.0, method=ConfidenceMethod.TOOL)


def outcome(tid: str, tool: str, value: object, query: dict[str, object]) -> Outcome:
    return Outcome(
        task_id=tid,
        status=OutcomeStatus.SUCCEEDED,
        value=value,
        confidence=TOOL,
        evidence=[Source(tool=tool, query=query)],
    )


def test_a_computation_on_a_made_up_number_is_no_evidence() -> None:
    made_up = outcome("a1", "calc", 111.11, {"expression": "111.11"})
    assert sourced([made_up]) == []


def test_a_computation_on_looked_up_numbers_is_evidence() -> None:
    look = outcome("a1", "product", {"price_usd": 4.25}, {"name": "Widget"})
    calc = outcome("a2", "calc", 12.75, {"expression": "4.25 * 3"})
    invented = outcome("a3", "calc", 9.5, {"expression": "4.25 + 5.25"})
    kept = sourced([look, calc, invented])
    assert [o.task_id for o in kept] == ["a1"]  # 3 is no looked-up value either...
    asked = sourced([look, calc], "What do 3 Widgets cost?")
    assert [o.task_id for o in asked] == ["a1", "a2"]  # ...unless the question gives it
    calc_ok = outcome("a4", "calc", 8.5, {"expression": "4.25 + 4.25"})
    assert [o.task_id for o in sourced([look, calc_ok])] == ["a1", "a4"]


def test_an_answer_must_be_about_every_name_the_question_gives() -> None:
    from veritask.pipeline.deep_agent import unseen_names

    battery = outcome("a1", "product", {"name": "Battery", "in_stock": 2600}, {"name": "Batteries"})
    question = "How many times as many Cable Ties as Batteries are in stock?"
    assert unseen_names(question, [battery]) == ["Cable Ties"]
    ties = outcome("a2", "product", {"name": "Cable Tie", "in_stock": 5400}, {"name": "Cable Ties"})
    assert unseen_names(question, [battery, ties]) == []


def test_a_small_whole_number_is_not_a_rounding_of_another() -> None:
    from veritask.assembler.grounding import check

    battery = outcome("a1", "product", {"price_usd": 1.6, "in_stock": 2600}, {"name": "Battery"})
    assert not check("2", [battery]).ok
    assert check("1.6", [battery]).ok and check("2600", [battery]).ok
    assert check("2,600", [battery]).ok
