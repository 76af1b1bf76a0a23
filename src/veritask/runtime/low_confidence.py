"""What the runtime does with a result under its task's `min_confidence`.

The runtime does not escalate: it knows nothing of models, rungs or agents.
It reports a low-confidence result of a task whose policy says `escalate`
to a hook that the layer above supplies (the pipeline's per-task ladder),
keeps the task running meanwhile — so only the tasks that depend on it
wait — and records whatever the hook concludes: a value (improved,
or accepted and flagged) or an error (the task becomes a gap).

Without a hook, `escalate` lets the result through as `accept` does.

A result with no answer (`ToolResult.no_answer`: a model worker whose outputs
were all cut or ambiguous) is under every threshold: with `escalate` and a
hook it climbs like any unsure result; otherwise, and when the hook ends
without an answer, the task fails with the reason (`NoAnswer`), whatever the
fallback — `accept` has nothing to accept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from veritask.budget import BudgetMeter
from veritask.errors import BudgetExceeded, StoreError
from veritask.runtime.eventlog import EventLog
from veritask.tools.registry import ToolResult
from veritask.types import ErrorInfo, Policy, Task


class LowConfidenceHook(Protocol):
    """Decides what becomes of a task result under its threshold.

    Called with keyword arguments only (more may be added; accept `**future`).
    Returns the task's final result, or an ErrorInfo to fail it. It may write
    events to `log` (e.g. `Escalated`) and must flush them itself.
    """

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
    ) -> ToolResult | ErrorInfo: ...


def wants_escalation(policy: Policy, result: ToolResult, hook: LowConfidenceHook | None) -> bool:
    """Whether `result` goes to the hook instead of straight into the log."""
    if hook is None or policy.on_low_confidence != "escalate":
        return False
    threshold = policy.min_confidence or 0.0
    return bool(result.no_answer) or score_of(result) < threshold


def score_of(result: ToolResult) -> float:
    """The result's confidence score; a result without one comes from a source of truth."""
    return result.confidence.score if result.confidence is not None else 1.0


def low_confidence_error(policy: Policy, score: float) -> ErrorInfo | None:
    """An error when the policy says a result this unsure must fail the task. `accept` (and
    `escalate` with no hook) lets it through, flagged by its score."""
    threshold = policy.min_confidence or 0.0
    if score >= threshold or policy.on_low_confidence != "fail":
        return None
    return ErrorInfo(
        type="LowConfidence",
        message=f"confidence {score:.2f} is below the task's minimum {threshold:.2f}",
    )


def no_answer_error(result: ToolResult) -> ErrorInfo | None:
    """The gap a result without an answer leaves (its reason, as a failure), or None."""
    return ErrorInfo(type="NoAnswer", message=result.no_answer) if result.no_answer else None


async def escalate_low(
    hook: LowConfidenceHook,
    *,
    task: Task,
    policy: Policy,
    result: ToolResult,
    values: Mapping[str, Any],
    log: EventLog,
    meter: BudgetMeter,
) -> ToolResult | ErrorInfo:
    """Run the hook; a bug in it fails the task (never the run), a spent budget is an error.

    StoreError propagates: the log refused us, so the driver must stop.
    """
    try:
        return await hook(
            task=task, policy=policy, result=result, values=values, log=log, meter=meter
        )
    except (StoreError, BudgetExceeded):
        raise
    except Exception as exc:
        return ErrorInfo(
            type="EscalationFailed",
            message=f"escalating {task.id} failed: {type(exc).__name__}: {exc}",
        )


__all__ = [
    "LowConfidenceHook",
    "escalate_low",
    "low_confidence_error",
    "no_answer_error",
    "score_of",
    "wants_escalation",
]
