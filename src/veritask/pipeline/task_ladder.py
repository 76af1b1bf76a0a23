"""Per-task escalation: the one task that is unsure climbs the ladder, the rest go on.

The runtime hands a result under its task's `min_confidence` (policy
`on_low_confidence="escalate"`) to `TaskLadder`, the hook the Orchestrator
installs, and keeps the task running meanwhile, so only its dependents
wait. The ladder (`veritask.escalation.ladder`) climbs:

1. `resample` — k more samples of the same model worker, majority of all votes;
2. `stronger_model` — the worker on the models routed for `escalate` (skipped,
   with that reason, when none is configured);
3. `deep_agent` — a bounded agent scoped to the task's goal and inputs, with the
   run's tools, whose answer must be grounded in its own look-ups.

Each rung is checked against the remaining budget before it starts and is
skipped with the reason when it cannot fit. Every rung, taken or skipped, is
an `Escalated` event (target = the task id, confidence before and after,
tokens, cost), flushed at once. A rung that improved the result also logs
the result, so a run killed mid-climb resumes from its log: rungs already
recorded are not climbed again and the best result so far is restored.

When no rung brings the task over its threshold, the task's `fallback`
decides: `fail` (the task fails, the answer names the gap) or `accept` (the
value flows on with its low score, flagged in its confidence signals, and
the answer's confidence is no higher than it).

A result with no answer (`ToolResult.no_answer`: a worker whose outputs were
all cut by the length limit, ambiguous or off-format) climbs the same way, from
confidence 0; the first rung that finds an answer replaces it. If none does,
the task fails with the reason and the climb (`NoAnswer`) under either
fallback: `accept` has nothing to accept.

Which tasks have rungs: model workers (`llm.*`) all three; any other tool —
a source of truth, which resampling cannot change — only the agent, and only
when the task's own policy asks for `escalate`. A task with no rung goes
straight to its fallback, as before.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from veritask.budget import BudgetMeter
from veritask.escalation.ladder import Attempt, Rung, Step, climb
from veritask.models.base import estimate_tokens
from veritask.models.workers import WORKERS, Effort, accepts, votes_of
from veritask.pipeline.agent_step import agent_result, run_agent, scoped_goal
from veritask.plan.refs import resolve
from veritask.runtime.eventlog import EventLog
from veritask.tools.registry import ToolResult
from veritask.types import Confidence, ErrorInfo, EventType, Policy, Source, Task

if TYPE_CHECKING:
    from veritask.pipeline.orchestrator import Orchestrator

RESAMPLE_K = 4
"""Samples the resample rung adds (the majority is over these and the earlier ones)."""
SAMPLE_TOKENS = 32
"""Output tokens a worker sample is estimated at, for the budget check."""
AGENT_STEPS = 4
AGENT_TOKENS_PER_STEP = 1200
AGENT_SECONDS = 120.0
SCOPE = "task"


class TaskLadder:
    """The Orchestrator's `LowConfidenceHook`: climb for one task, then apply its fallback."""

    def __init__(self, orch: Orchestrator) -> None:
        self.orch = orch

    async def __call__(
        self,
        *,
        task: Task,
        policy: Policy,
        result: ToolResult,
        values: Mapping[str, Any],
        log: EventLog,
        meter: BudgetMeter,
        **future: Any,
    ) -> ToolResult | ErrorInfo:
        threshold = policy.min_confidence or 0.0
        args = resolve(task.args, values)
        recorded = recorded_steps(log, task.id)
        best, score = _restore(result, recorded)
        done = {str(s.get("rung")) for s in recorded}
        rungs = [r for r in self.rungs(task, args, best) if r.name not in done]
        climbed = await climb(
            rungs,
            start=Attempt(None if best.no_answer else best, score),
            threshold=threshold,
            meter=meter,
            on_step=_step_logger(log, task.id),
        )
        final = climbed.result or best
        trail = recorded + [s.as_event(task.id) for s in climbed.steps]
        if final.no_answer:
            return ErrorInfo(type="NoAnswer", message=f"{final.no_answer} {_trail_text(trail)}")
        if climbed.confidence >= threshold:
            return _noted(final, trail, "")
        below = f"confidence {climbed.confidence:.2f} is below the task's minimum {threshold:.2f}"
        climbed_text = _trail_text(trail)
        if (policy.fallback or "accept") == "fail":
            return ErrorInfo(type="LowConfidence", message=f"{below} {climbed_text}")
        return _noted(final, trail, f"accepted: {below} {climbed_text}")

    def rungs(self, task: Task, args: dict[str, Any], best: ToolResult) -> list[Rung[ToolResult]]:
        """The rungs `task` may climb, cheapest first (see the module doc)."""
        out: list[Rung[ToolResult]] = []
        worker = WORKERS.get(task.tool)
        if worker is not None:
            prompt = estimate_tokens(json.dumps(args, ensure_ascii=False, default=str)) + 120
            prior = votes_of(best.confidence)
            out.append(
                Rung(
                    "resample",
                    lambda: _attempt(worker(args, Effort(samples=RESAMPLE_K), prior)),
                    estimated_tokens=prompt + RESAMPLE_K * SAMPLE_TOKENS,
                )
            )
            strong = tuple(self.orch.router.settings.routes.get("escalate") or ())
            out.append(
                Rung(
                    "stronger_model",
                    lambda: _attempt(worker(args, Effort(models=strong), ())),
                    estimated_tokens=prompt + SAMPLE_TOKENS,
                    unavailable="" if strong else "no stronger model is routed for `escalate`",
                )
            )
        asked = task.policy is not None and task.policy.on_low_confidence == "escalate"
        if worker is not None or asked:
            out.append(
                Rung(
                    "deep_agent",
                    lambda: self._agent(task, args),
                    estimated_tokens=AGENT_STEPS * AGENT_TOKENS_PER_STEP,
                    estimated_calls=AGENT_STEPS,
                )
            )
        return out

    async def _agent(self, task: Task, args: dict[str, Any]) -> Attempt[ToolResult]:
        goal = scoped_goal(task.description, task.tool, args)
        got = await run_agent(
            self.orch, goal, max_steps=AGENT_STEPS, max_tokens=None, max_seconds=AGENT_SECONDS
        )
        if got.answer is None:
            return Attempt(None, 0.0)
        found = agent_result(got, {"goal": goal}, "deep_agent")
        if task.tool in WORKERS and not accepts(task.tool, args, found.value):
            return Attempt(None, 0.0)  # e.g. an "extract" that is no span of the text
        assert found.confidence is not None
        return Attempt(found, found.confidence.score)


async def _attempt(pending: Awaitable[ToolResult]) -> Attempt[ToolResult]:
    from veritask.errors import ToolError

    try:
        got = await pending
    except ToolError:  # the worker could not run (e.g. its input is empty)
        return Attempt(None, 0.0)
    if got.no_answer:  # every sample cut, ambiguous or off-format: this rung found nothing
        return Attempt(None, 0.0)
    return Attempt(got, got.confidence.score if got.confidence is not None else 0.0)


def recorded_steps(log: EventLog, task_id: str) -> list[dict[str, Any]]:
    """The rungs this task already climbed in this run (non-empty only on resume)."""
    return [
        e.data
        for e in log.store.events(log.run_id)
        if e.type == EventType.ESCALATED
        and e.data.get("scope") == SCOPE
        and e.data.get("target") == task_id
    ]


def _restore(result: ToolResult, recorded: list[dict[str, Any]]) -> tuple[ToolResult, float]:
    """The best of the fresh result and the results recorded rungs brought."""
    best = result
    score = result.confidence.score if result.confidence is not None else 0.0
    for step in recorded:
        saved = step.get("result")
        if isinstance(saved, dict) and float(step.get("after", 0.0)) > score:
            best = ToolResult(
                saved.get("value"),
                [Source.model_validate(s) for s in saved.get("evidence", [])],
                Confidence.model_validate(saved["confidence"]),
            )
            score = float(step["after"])
    return best, score


def _step_logger(log: EventLog, task_id: str) -> Callable[[Step], None]:
    def record(step: Step) -> None:
        data = {**step.as_event(task_id), "scope": SCOPE}
        found = step.improved
        if isinstance(found, ToolResult) and found.confidence is not None:
            data["result"] = {
                "value": found.value,
                "confidence": found.confidence.model_dump(mode="json"),
                "evidence": [s.model_dump(mode="json") for s in found.evidence],
            }
        log.emit(EventType.ESCALATED, data)
        log.flush()

    return record


def _trail_text(trail: list[dict[str, Any]]) -> str:
    if not trail:
        return "(no rung could try harder)"
    parts = [
        f"{s.get('rung')} {'taken' if s.get('taken') else 'skipped'}"
        + (f": {s['reason']}" if s.get("reason") else "")
        for s in trail
    ]
    return "after escalation (" + "; ".join(parts) + ")"


def _noted(result: ToolResult, trail: list[dict[str, Any]], flag: str) -> ToolResult:
    """`result` with what the climb did in its confidence signals (and the flag, if any)."""
    conf = result.confidence or Confidence(score=0.0)
    signals = dict(conf.signals)
    if trail:
        signals["escalated"] = [str(s.get("rung")) for s in trail if s.get("taken")]
    if flag:
        signals["flagged"] = flag
    return ToolResult(result.value, result.evidence, conf.model_copy(update={"signals": signals}))


__all__ = ["RESAMPLE_K", "TaskLadder", "recorded_steps"]
