"""The static baseline: find entities on real geo data, look them up, one model call."""

from __future__ import annotations

import json

from modes._helpers import MakeOrch, population
from veritask.config import Budget
from veritask.types import AnswerStatus, EventType, OutcomeStatus, RunStatus


def looked_up(result: object) -> list[tuple[str, str, str]]:
    """(task id, tool, argument) of every lookup, in order."""
    outcomes = result.outcomes  # type: ignore[attr-defined]
    return [
        (tid, o.evidence[0].tool, next(iter(o.evidence[0].query.values())))
        for tid, o in outcomes.items()
    ]


def test_finds_both_countries_and_answers_from_their_facts(scripted: MakeOrch) -> None:
    orch, model = scripted(["Answer: Peru has more people."])
    result = orch.run("Which has more people, Chile or Peru?", mode="static")

    answer = result.answer
    assert answer is not None
    assert answer.status is AnswerStatus.ANSWERED and result.status is RunStatus.SUCCEEDED
    assert answer.text == "Peru has more people."
    resolved = [(tid, o.value["name"]) for tid, o in result.outcomes.items() if o.ok]
    assert [name for _, name in resolved] == ["Chile", "Peru"]
    assert answer.claims[0].task_ids == [tid for tid, _ in resolved]
    assert answer.gaps == []

    [call] = model.calls
    assert call.grammar is not None and call.grammar.startswith('root ::= "Answer: "')
    facts = json.loads(call.prompt.split("Facts: ", 1)[1].split("\nQuestion:", 1)[0])
    assert facts["Chile"]["population"] == population("Chile")
    assert facts["Peru"]["population"] == population("Peru")
    assert "Which has more people, Chile or Peru?" in call.prompt
    assert "one short sentence" in call.prompt


def test_longest_resolving_span_wins_and_its_parts_are_not_looked_up(
    scripted: MakeOrch,
) -> None:
    orch, model = scripted(["Answer: Kinshasa."])
    result = orch.run("What is the capital of the Democratic Republic of the Congo?", mode="static")

    ok = [o for o in result.outcomes.values() if o.ok]
    assert [o.value["iso"] for o in ok] == ["CD"]
    asked = [arg for _, _, arg in looked_up(result)]
    assert asked[0] == "Democratic Republic of the Congo"
    assert "Congo" not in asked and "Republic" not in asked
    assert result.answer is not None and result.answer.value == "Kinshasa"
    assert '"Democratic Republic of the Congo"' in model.last_call.prompt


def test_capitals_and_cities_resolve_with_the_next_tool(scripted: MakeOrch) -> None:
    orch, _ = scripted(["Answer: Kenya.", "Answer: About 2.7 million."])
    by_capital = orch.run("Which country has Nairobi as its capital?", mode="static")
    assert looked_up(by_capital) == [
        ("s1", "country_facts", "Nairobi"),
        ("s2", "country_by_capital", "Nairobi"),
    ]
    assert by_capital.outcomes["s1"].status is OutcomeStatus.FAILED
    assert by_capital.outcomes["s2"].value["name"] == "Kenya"

    city = orch.run("How many people live in Osaka?", mode="static")
    assert [tool for _, tool, _ in looked_up(city)] == [
        "country_facts",
        "country_by_capital",
        "city_facts",
    ]
    assert city.outcomes["s3"].value["country"] == "Japan"
    assert city.answer is not None and city.answer.value == 2_700_000


def test_no_entity_abstains_without_calling_the_model(scripted: MakeOrch) -> None:
    orch, model = scripted([])  # any model call would raise ScriptExhausted
    result = orch.run("what is the meaning of life?", mode="static")
    answer = result.answer
    assert answer is not None and answer.status is AnswerStatus.ABSTAINED
    assert "no name in the question" in answer.gaps[0]
    assert model.calls == []
    assert result.outcomes and not any(o.ok for o in result.outcomes.values())


def test_lookups_are_logged_as_tasks(scripted: MakeOrch) -> None:
    orch, _ = scripted(["Answer: Peru."])
    result = orch.run("Which has more people, Chile or Peru?", mode="static")
    events = orch.store.events(result.run_id)
    started = [e.data["task_id"] for e in events if e.type is EventType.TASK_STARTED]
    finished = [
        e.data["task_id"]
        for e in events
        if e.type in (EventType.TASK_SUCCEEDED, EventType.TASK_FAILED)
    ]
    assert started == finished == [f"s{i}" for i in range(1, len(started) + 1)]
    assert orch.state(result.run_id).outcomes.keys() == result.outcomes.keys()


def test_budget_spent_before_the_answer_call_abstains(scripted: MakeOrch) -> None:
    orch, model = scripted(["Answer: never asked."], budget=Budget(max_tasks=1))
    result = orch.run("Which has more people, Chile or Peru?", mode="static")
    answer = result.answer
    assert answer is not None and answer.status is AnswerStatus.ABSTAINED
    assert len(result.outcomes) == 1 and model.calls == []
    assert result.budget_exceeded is not None and result.budget_exceeded["resource"] == "tasks"
