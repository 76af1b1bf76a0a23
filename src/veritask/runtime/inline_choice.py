"""Which tasks of a run execute on the event loop, and how such an attempt runs.

See `veritask.runtime.backends.short_calls` for why default sync tools that have
proved short run here instead of in a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping
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
        start = start_clock()
        result = attempt_inline(spec, raw_args, values)
        elapsed = stop_clock(record, short_bound(timeout_s), start)
        if timeout_s is not None and elapsed > timeout_s:
            return AttemptResult(error=describe_failure(TaskTimeout(tid, timeout_s)))
        return result
