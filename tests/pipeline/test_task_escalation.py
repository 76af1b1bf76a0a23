"""Per-task escalation: the unsure task climbs the ladder, the rest of the DAG goes on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from veritask import Budget, Orchestrator
from veritask.config import Settings
from veritask.models import HANG, Completion, Router, ScriptedModel
from veritask.models.scripted import ScriptedCall, constrained
from veritask.models.workers import EXTRACT_SAMPLES
from veritask.tools import ToolRegistry, default_registry
from veritask.tools.registry import ToolResult
from veritask.types import Confidence, EventType, OutcomeStatus, Plan

TEXT = "The meeting moved to Room 4B on Friday. Lunch is at noon."
UNGROUNDED = "Thought: done.\nFinal Answer: 12"
"""What the deep-agent rung says when scripted: a number it never looked up."""


def sample(text: str, prob: float) -> Completion:
    """One scripted sample as the embedded model reports it: `text` at probability `prob`."""
    return constrained(text, prob)


def first(prob: float = 0.3) -> list[Completion]:
    """The task's first call: its 4 samples all say "Room 4B", at probability `prob`."""
    return [sample("Room 4B", prob)] * EXTRACT_SAMPLES


def plan(*, fallback: str = "accept", min_confidence: float = 0.8, **extra: Any) -> Plan:
    policy = {"min_confidence": min_confidence, "fallback": fallback}
    return Plan.model_validate(
        {
            "goal": "Where is the meeting?",
            "tasks": [
                {
                    "id": "room",
                    "tool": "llm.extract",
                    "args": {"text": TEXT, "what": "the room of the meeting"},
                    "description": "the room of the meeting",
                    "policy": policy,
                },
                *extra.get("more", []),
            ],
            "answer_template": extra.get("template", "The meeting is in {$room}."),
        }
    )


def orchestrator(
    weak: ScriptedModel,
    strong: ScriptedModel | None = None,
    store: str = "memory://",
    **kw: Any,
) -> Orchestrator:
    routes = {"escalate": ["strong"]} if strong is not None else {}
    providers = {"weak": weak, **({"strong": strong} if strong is not None else {})}
    router = Router(Settings(model="weak", routes=routes), providers)
    return Orchestrator(store, router=router, memory=False, **kw)


def escalations(orch: Orchestrator, run_id: str) -> list[dict[str, Any]]:
    return [e.data for e in orch.store.events(run_id) if e.type == EventType.ESCALATED]


def test_an_unsure_first_sample_that_resampling_confirms_climbs_one_rung() -> None:
    # Drawing "Room 4B" again adds nothing; finding the same answer in its sentence does.
    found = sample("The meeting moved to Room 4B", 0.6)
    weak = ScriptedModel(first() + [found] + [sample("Room 4B", 0.3)] * 3)
    orch = orchestrator(weak)
    result = orch.execute(plan())
    room = result.outcomes["room"]
    assert room.status is OutcomeStatus.SUCCEEDED and room.value == "Room 4B"
    assert room.confidence.score == pytest.approx(0.9)
    assert room.confidence.signals["escalated"] == ["resample"]
    steps = escalations(orch, result.run_id)
    assert len(steps) == 1
    step = steps[0]
    assert (step["target"], step["rung"], step["taken"]) == ("room", "resample", True)
    assert step["before"] == pytest.approx(0.3) and step["after"] == pytest.approx(0.9)
    assert step["usage"]["model_calls"] == 1 and step["usage"]["output_tokens"] > 0
    assert [c.n for c in weak.calls] == [EXTRACT_SAMPLES, 4] and weak.remaining == 0
    from veritask.assembler import assemble_from_template

    assert result.plan is not None
    answer = assemble_from_template(result.plan, result.outcomes)
    assert answer.text == (
        "The meeting is in Room 4B. (The room of the meeting was unsure at first "
        "and was resampled.)"
    )


def test_a_rung_the_budget_cannot_fit_is_skipped_with_its_reason() -> None:
    weak = ScriptedModel(first())
    orch = orchestrator(weak, budget=Budget(max_tokens=150))
    result = orch.execute(plan())
    steps = escalations(orch, result.run_id)
    assert [(s["rung"], s["taken"]) for s in steps] == [
        ("resample", False),
        ("stronger_model", False),
        ("deep_agent", False),
    ]
    assert "tokens" in steps[0]["reason"] and "left" in steps[0]["reason"]
    assert steps[1]["reason"] == "no stronger model is routed for `escalate`"
    assert all(s["before"] == s["after"] == pytest.approx(0.3) for s in steps)
    assert len(weak.calls) == 1  # nothing beyond the first sample was started
    room = result.outcomes["room"]  # the default fallback: accept, flagged
    assert room.ok and "accepted" in room.confidence.signals["flagged"]


def unhelpful(weak_default: str = UNGROUNDED) -> ScriptedModel:
    """First call unsure; the resample finds little more; the agent answers ungrounded."""
    resample = [sample(t, p) for t, p in [("Friday", 0.2), ("noon", 0.1), ("Lunch", 0.05)]]
    more = sample("moved to Room 4B", 0.1)  # the same answer: 0.3 + 0.1
    return ScriptedModel([*first(), *resample, more], default=weak_default)


def test_a_rung_that_does_not_help_falls_back_to_fail_and_the_task_is_a_gap() -> None:
    orch = orchestrator(unhelpful())
    result = orch.execute(plan(fallback="fail"))
    room = result.outcomes["room"]
    assert room.status is OutcomeStatus.FAILED and room.error is not None
    assert room.error.type == "LowConfidence"
    assert "0.40 is below the task's minimum 0.80 after escalation" in room.error.message
    assert result.status.value == "failed"
    assert any(g.startswith("room (llm.extract) failed: confidence 0.40") for g in result.gaps)
    steps = escalations(orch, result.run_id)
    assert [(s["rung"], s["taken"], s["after"]) for s in steps] == [
        ("resample", True, 0.4),
        ("stronger_model", False, 0.4),
        ("deep_agent", True, 0.4),  # its answer was not grounded, so it changed nothing
    ]


def test_a_rung_that_does_not_help_falls_back_to_accept_with_a_flagged_value() -> None:
    from veritask.assembler import assemble_from_template

    orch = orchestrator(unhelpful())
    result = orch.execute(plan(fallback="accept"))
    room = result.outcomes["room"]
    assert room.ok and room.value == "Room 4B"
    assert room.confidence.score == pytest.approx(0.4)
    assert "accepted: confidence 0.40 is below" in room.confidence.signals["flagged"]
    assert result.plan is not None
    answer = assemble_from_template(result.plan, result.outcomes, threshold=0.5)
    assert answer.confidence.score == pytest.approx(0.4)  # the answer says how unsure it is
    assert answer.text.endswith(
        "(The room of the meeting was unsure at first; escalation tried resampling, then "
        "an agent; it is still unsure (confidence 0.40).)"
    )
    assert answer.status.value == "partial"


async def test_only_the_tasks_that_depend_on_the_climbing_task_wait() -> None:
    side_done = asyncio.Event()

    async def side() -> int:
        """An independent look-up."""
        side_done.set()
        return 7

    async def resample_waits_for_side(call: ScriptedCall) -> Completion:
        # If the scheduler waited for the climb, `side` would never run and this times out.
        await asyncio.wait_for(side_done.wait(), 5)
        return sample("The meeting moved to Room 4B", 0.6)

    registry = ToolRegistry([default_registry().get("calc")])
    registry.tool(name="side")(side)
    weak = ScriptedModel([*first(), resample_waits_for_side, *first()[:3]])
    orch = orchestrator(weak, registry=registry)
    more = [
        {"id": "other", "tool": "side", "args": {}},
        {"id": "after", "tool": "calc", "args": {"expression": "1 + 1"}, "after": ["room"]},
    ]
    result = await orch.aexecute(plan(more=more, template="{$room} {$other} {$after}"))
    assert result.status.value == "succeeded"
    events = orch.store.events(result.run_id)

    def seq(etype: EventType, tid: str) -> int:
        return next(e.seq for e in events if e.type == etype and e.data.get("task_id") == tid)

    climbed = next(e.seq for e in events if e.type == EventType.ESCALATED)
    assert seq(EventType.TASK_SUCCEEDED, "other") < seq(EventType.TASK_SUCCEEDED, "room")
    assert seq(EventType.TASK_STARTED, "after") > seq(EventType.TASK_SUCCEEDED, "room")
    assert seq(EventType.TASK_STARTED, "after") > climbed


async def test_a_run_killed_mid_climb_resumes_without_repeating_a_recorded_rung(
    tmp_path: Path,
) -> None:
    store = f"sqlite:///{tmp_path}/runs.db"
    driver: list[asyncio.Task[Any]] = []

    def crash(call: ScriptedCall) -> Any:
        driver[0].cancel()  # the process dies while the stronger model is thinking
        return HANG

    weak = unhelpful(weak_default="unused")
    orch = orchestrator(weak, ScriptedModel([crash], name="strong"), store=store)
    driver.append(asyncio.create_task(orch.aexecute(plan(), run_id="climb")))
    with pytest.raises(asyncio.CancelledError):
        await driver[0]
    before = [s["rung"] for s in escalations(orch, "climb")]
    assert before == ["resample"]  # recorded, with the result it brought (0.4)

    weak2 = ScriptedModel(first())  # the task's own attempt is re-run
    strong2 = ScriptedModel(first(0.95), name="strong")
    resumed = await orchestrator(weak2, strong2, store=store).aresume("climb")
    room = resumed.outcomes["room"]
    assert room.ok and room.confidence.score == pytest.approx(0.95)
    assert [c.n for c in weak2.calls] == [EXTRACT_SAMPLES]  # no second resample
    assert len(strong2.calls) == 1
    rungs = [(s["rung"], s["taken"]) for s in escalations(orch, "climb")]
    assert rungs == [("resample", True), ("stronger_model", True)]


def test_a_source_of_truth_tool_does_not_climb_unless_its_task_asks(
    registry: ToolRegistry,
) -> None:
    @registry.tool(name="fuzzy", idempotent=True)
    def fuzzy() -> ToolResult:
        """A look-up that is not sure it found the right record."""
        return ToolResult("Lima", confidence=Confidence(score=0.3))

    weak = ScriptedModel()  # no model call may happen
    orch = orchestrator(weak, registry=registry)
    result = orch.execute({"tasks": [{"id": "t1", "tool": "fuzzy", "args": {}}]})
    assert result.outcomes["t1"].ok and weak.calls == []
    assert escalations(orch, result.run_id) == []


def show_lines(orch: Orchestrator, run_id: str) -> list[str]:
    from io import StringIO

    from rich.console import Console

    from veritask.cli_render import state_view

    out = StringIO()
    Console(file=out, width=200).print(state_view(orch.state(run_id)))
    climbs = ("escalated ", "skipped escalation ")
    return [line for line in out.getvalue().splitlines() if line.startswith(climbs)]


def test_show_prints_every_climb() -> None:
    orch = orchestrator(unhelpful())
    result = orch.execute(plan(fallback="fail"))
    lines = show_lines(orch, result.run_id)
    assert len(lines) == 3
    assert "escalated room via resample: confidence 0.30 → 0.40" in lines[0]
    assert "skipped escalation room via stronger_model" in lines[1]
    assert "no stronger model is routed" in lines[1]


# -- a worker that gave no answer climbs too --------------------------------------

CUT = constrained("The meeting moved to Room", 0.8, finish_reason="length")
"""A sample the token cap cut: no answer, whatever it shows."""


@pytest.mark.parametrize("min_confidence", [0.8, 0.0])
def test_a_task_with_no_answer_climbs_until_a_rung_finds_one(min_confidence: float) -> None:
    found = [sample("Room 4B", 0.85), sample("The meeting moved to Room 4B", 0.1)]
    weak = ScriptedModel([CUT] * EXTRACT_SAMPLES + found + [sample("Room 4B", 0.85)] * 2)
    orch = orchestrator(weak)
    result = orch.execute(plan(min_confidence=min_confidence))
    room = result.outcomes["room"]
    assert room.status is OutcomeStatus.SUCCEEDED and room.value == "Room 4B"
    assert room.confidence.score == pytest.approx(0.95)
    assert room.confidence.signals["escalated"] == ["resample"]
    steps = escalations(orch, result.run_id)
    assert [(s["rung"], s["taken"], s["before"], s["after"]) for s in steps] == [
        ("resample", True, 0.0, pytest.approx(0.95))
    ]
    assert [c.n for c in weak.calls] == [EXTRACT_SAMPLES, 4]


@pytest.mark.parametrize("fallback", ["accept", "fail"])
def test_a_task_no_rung_finds_an_answer_for_is_a_gap_with_the_reason(fallback: str) -> None:
    weak = ScriptedModel([CUT] * (EXTRACT_SAMPLES + 4), default=UNGROUNDED)
    orch = orchestrator(weak)
    result = orch.execute(plan(fallback=fallback))
    room = result.outcomes["room"]
    assert room.status is OutcomeStatus.FAILED and room.value is None
    assert room.error is not None and room.error.type == "NoAnswer"  # `accept`: nothing to accept
    assert "llm.extract gave no answer" in room.error.message
    assert "4 cut by the length limit" in room.error.message
    assert "after escalation (resample taken; stronger_model skipped" in room.error.message
    assert any("llm.extract gave no answer" in g for g in result.gaps)
    steps = escalations(orch, result.run_id)
    assert [(s["rung"], s["taken"], s["after"]) for s in steps] == [
        ("resample", True, 0.0),
        ("stronger_model", False, 0.0),
        ("deep_agent", True, 0.0),  # its answer was not grounded
    ]


def test_a_task_with_no_answer_takes_no_rung_the_budget_cannot_fit() -> None:
    weak = ScriptedModel([CUT] * EXTRACT_SAMPLES)
    orch = orchestrator(weak, budget=Budget(max_tokens=150))
    result = orch.execute(plan())
    steps = escalations(orch, result.run_id)
    assert [(s["rung"], s["taken"]) for s in steps] == [
        ("resample", False),
        ("stronger_model", False),
        ("deep_agent", False),
    ]
    assert "tokens" in steps[0]["reason"] and len(weak.calls) == 1
    room = result.outcomes["room"]
    assert room.status is OutcomeStatus.FAILED and room.error is not None
    assert room.error.type == "NoAnswer"


def test_the_stronger_model_can_answer_what_the_worker_could_not() -> None:
    weak = ScriptedModel([CUT] * (EXTRACT_SAMPLES + 4))
    strong = ScriptedModel(first(0.95), name="strong")
    orch = orchestrator(weak, strong)
    result = orch.execute(plan())
    room = result.outcomes["room"]
    assert room.ok and room.value == "Room 4B"
    assert room.confidence.score == pytest.approx(0.95)
    assert room.confidence.signals["model"] == "strong"
    rungs = [(s["rung"], s["taken"], s["after"]) for s in escalations(orch, result.run_id)]
    assert rungs == [("resample", True, 0.0), ("stronger_model", True, pytest.approx(0.95))]
