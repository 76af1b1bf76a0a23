"""What the runtime does with a result under its task's `min_confidence`.

The runtime does not escalate: it knows nothing of models, rungs or agents.
It reports a low-confidence result of a task whose policy says `escalate`
to a hook that the layer above supplies (the pipeline's per-task ladder),
keeps the task running meanwhile — so only the tasks that depend on it
wait — and records whatever the hook concludes: a value (improved,
or accepted and flagged) or an error (the task becomes a gap).

Without a hook, `escalate` lets the result through as `accept` does.
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


def wants_escalation(policy: Policy, score: float, hook: LowConfidenceHook | None) -> bool:
    """Whether a result scoring `score` goes to the hook instead of straight into the log."""
    threshold = policy.min_confidence or 0.0
    return hook is not None and score < threshold and policy.on_low_confidence == "escalate"


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


__all__ = ["LowConfidenceHook", "escalate_low", "wants_escalation"]
