"""Whether a question no plan passed gets the bounded deep agent (`unplanned_agent`).

By default the agent runs unless it would run on the embedded model, which
has just failed to plan the same question (it rescued none of 21 such
questions on the benchmark suites); a stronger model routed for `deep`
brings it back, and the setting forces either way. The rung skipped is still
an `Escalated` event with its reason. An invented apiary toolkit.
"""

from __future__ import annotations

from helpers.apiary import APIARY
from veritask import Orchestrator
from veritask.config import Settings
from veritask.models import ScriptedModel
from veritask.pipeline.deep_agent import agent_kind, not_worth_it
from veritask.types import EventType

QUESTION = "How much honey did the Clover hive give?"
WRONG_FIELD = '1. hive("Clover")\nAnswer: The Clover hive holds {$1.frames} frames.\n'


def orchestrator(**settings: object) -> Orchestrator:
    return Orchestrator("memory://", settings=Settings(**settings), memory=False, toolkits=[APIARY])  # type: ignore[arg-type]


def test_the_embedded_model_does_not_run_the_agent_by_default() -> None:
    reason = not_worth_it(orchestrator())
    assert "embedded SmolLM2 model" in reason and "unplanned_agent = 'always'" in reason


def test_a_stronger_model_for_deep_or_the_setting_brings_it_back() -> None:
    assert not_worth_it(orchestrator(routes={"deep": ["openai:gpt-4o-mini"]})) == ""
    assert not_worth_it(orchestrator(model="openai:gpt-4o-mini")) == ""
    assert not_worth_it(orchestrator(unplanned_agent="always")) == ""
    assert not_worth_it(orchestrator(unplanned_agent="never", model="openai:gpt-4o")) != ""


def test_a_skipped_agent_is_an_escalation_event_with_its_reason() -> None:
    model = ScriptedModel(default=WRONG_FIELD)
    orch = Orchestrator(
        "memory://",
        model=model,
        settings=Settings(unplanned_agent="never"),
        memory=False,
        toolkits=[APIARY],
    )
    result = orch.run(QUESTION)
    assert result.answer is not None and result.answer.status.value == "abstained"
    (step,) = [e.data for e in orch.store.events(result.run_id) if e.type == EventType.ESCALATED]
    assert step["rung"] == "deep_agent" and step["taken"] is False
    assert "never" in str(step["reason"])
    assert len(model.calls) == 3  # two samples and the repair round; no agent turn


def test_with_a_scripted_model_the_agent_still_runs() -> None:
    model = ScriptedModel([WRONG_FIELD] * 3, default="Thought: none.\nFinal Answer: 12")
    orch = Orchestrator("memory://", model=model, memory=False, toolkits=[APIARY])
    result = orch.run(QUESTION)
    (step,) = [e.data for e in orch.store.events(result.run_id) if e.type == EventType.ESCALATED]
    assert step["taken"] is True
    assert len(model.calls) > 3


def test_the_agent_uses_the_deep_route_only_when_one_is_set() -> None:
    assert agent_kind(orchestrator()) == "plan"  # the planner's model, as before
    assert agent_kind(orchestrator(routes={"deep": ["openai:gpt-4o-mini"]})) == "deep"
    # A planner routed to a stronger model brings the agent along.
    assert not_worth_it(orchestrator(routes={"plan": ["openai:gpt-4o-mini"]})) == ""
