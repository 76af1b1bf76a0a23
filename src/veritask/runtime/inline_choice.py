"""Which tasks of a run execute on the event loop, and how such an attempt runs.

See `veritask.runtime.backends.short_calls` for why default sync tools that have
proved short run here instead of in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from veritask.errors import TaskTimeout
from veritask.runtime.backends.short_calls import (
    ShortCalls,
    record_for,
    short_bound,
    start_clock,
    stop_clock,
)
from veritask.runtime.tool_call import AttemptResult, attempt_inline, describe_failure
from veritask.tools.registry import ToolSpec


class InlineChoice:
    """Which of a run's tasks run on the loop now: pinned `inline=True` tools, and
    default tools whose record says they have proved short. `tid in choice` is the
    scheduler's test; `attempt` runs one such task's attempt on the loop."""

    def __init__(
        self,
        specs: Mapping[str, ToolSpec],
        timeouts: Mapping[str, float | None],
        *,
        enabled: bool,
        adaptive: bool,
    ) -> None:
        self.pinned = frozenset(t for t, s in specs.items() if enabled and s.inline)
        self.adaptive: dict[str, tuple[ShortCalls, float | None]] = {}
        if enabled and adaptive:
            for tid, spec in specs.items():
                record = record_for(spec)
                if record is not None:
                    self.adaptive[tid] = (record, timeouts.get(tid))

    def __contains__(self, tid: object) -> bool:
        if tid in self.pinned:
            return True
        entry = self.adaptive.get(tid) if isinstance(tid, str) else None
        return entry is not None and entry[0].inline

    def attempt(
        self, tid: str, spec: ToolSpec, raw_args: dict[str, Any], values: Mapping[str, Any]
    ) -> AttemptResult | None:
        """One attempt on the loop; an adaptive tool's call is timed and, past its
        timeout, reported as `TaskTimeout` like a threaded call would be."""
        entry = self.adaptive.get(tid)
        if entry is None:
            return attempt_inline(spec, raw_args, values)
        record, timeout_s = entry
        timed = _TimedCall(record, short_bound(timeout_s))
        result = attempt_inline(spec, raw_args, values, call=timed)
        if timeout_s is not None and timed.elapsed > timeout_s:
            return AttemptResult(error=describe_failure(TaskTimeout(tid, timeout_s)))
        return result


class _TimedCall:
    """Times the tool's function alone, like the worker thread does (`timed_call`).

    Only the call is timed, not the argument resolution and result checks around
    it: the shorter the window, the less often a preemption of the whole process
    (a loaded machine, a throttled container) lands in it and passes for a slow
    tool — measured under load 10, timing the whole attempt (~50 µs) demoted the
    no-op every few hundred calls."""

    __slots__ = ("bound", "elapsed", "record")

    def __init__(self, record: ShortCalls, bound: float) -> None:
        self.record = record
        self.bound = bound
        self.elapsed = 0.0

    def __call__(self, fn: Callable[..., Any], args: dict[str, Any]) -> Any:
        start = start_clock()
        try:
            return fn(**args)
        finally:
            self.elapsed = stop_clock(self.record, self.bound, start)
