"""The default sync tool's fast path: run a tool inline once it has proved short.

This module keeps the records and times threaded calls; `veritask.runtime.inline_choice`
runs the proved-short calls on the loop.

Why this design (issue 16, item 4). A default `@tool` on a sync function runs
in a worker thread so that a slow call neither freezes the event loop nor
escapes its timeout. The hop costs ~150–350 µs per task (executor queue, thread
wake-up, loop wake-up through its self-pipe, a `wait_for`, an asyncio task) —
more than all of LangGraph's per-node machinery. The alternatives considered:

- a dedicated, reused executor: the pool is already reused; the cost is the
  hand-off itself, which a different pool does not remove;
- batching ready tasks into one hop: helps fan-outs only; a chain has one ready
  task at a time, and it is the chain that falls short;
- running *provably short* tools inline: removes the hop where it matters and
  keeps the thread for every tool that has not shown it is short.

We chose the last, adaptively, because a decorator cannot know how long a
function takes but the runtime can measure it. A tool left at the default
(`inline=None`) starts in the thread. Each threaded call is timed inside the
worker (the function alone, not the hop). After `PROBE_CALLS` consecutive calls
each under `short_bound(timeout)` — 1 ms, or 1 % of its timeout if that is
smaller — the tool runs on the loop like `inline=True`. Every inline call is
timed too; one call over ten bounds (10 ms) sends the tool back to the thread
and doubles the streak it needs to come back (up to `MAX_NEEDED` = 1,024), so a
tool that is often slow stays threaded.

What the thread protects, and what remains:

- *A timed-out tool is reported.* An inline call that ran past its timeout
  fails with `TaskTimeout` exactly as the threaded call would have (its late
  value is discarded), and the tool goes back to the thread.
- *The loop stays responsive.* An inline call blocks the loop for its own
  duration, which is under 10 ms for every call up to the first slow one
  (asyncio's own debug mode only warns at 100 ms). The
  residual risk is one call: a tool that was short `PROBE_CALLS` times in a row
  and then blocks (a cache miss going to the network) blocks the loop for that
  call. A tool that can do that should say `@tool(inline=False)` (always
  threaded); `InlineBackend(adaptive=False)` turns the fast path off for a run.

The record is process-wide (keyed by the tool's function, weakly), so a
service answering many questions learns once. Updates come from worker threads
without a lock: a race can only miscount a streak, which the next slow call
corrects, never run a tool that was just demoted for long.
"""

from __future__ import annotations

import time
import weakref

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]
from collections.abc import Callable
from typing import Any

from veritask.tools.registry import ToolSpec

PROBE_CALLS = 8
"""Consecutive short threaded calls before a tool may run inline."""

MAX_NEEDED = 1024
"""The longest streak a demoted tool must show again. On a machine loaded far past
its cores a 5 µs call can now and then take over 10 ms (a GIL hand-off to a
preempted thread, a garbage collection): unbounded doubling let such noise keep
a short tool threaded for good, which the overhead benchmark showed at load 17.
With the cap, a tool that is slow once in a thousand calls may block the loop
about once per thousand calls."""

SHORT_S = 0.001
"""A call is short when it takes under this (or 1 % of its timeout, if smaller)."""


SLOW_FACTOR = 10
"""An inline tool goes back to the thread after one call over this many short bounds."""


def short_bound(timeout_s: float | None) -> float:
    """The longest call that still counts as short for a tool with this timeout."""
    return SHORT_S if timeout_s is None else min(SHORT_S, timeout_s / 100)


class ShortCalls:
    """What the runtime has seen of one tool's call durations."""

    __slots__ = ("inline", "needed", "streak")

    def __init__(self) -> None:
        self.streak = 0
        self.needed = PROBE_CALLS
        self.inline = False

    def observe(self, seconds: float, bound: float) -> None:
        """Count one call; promote after a long enough streak, demote on a slow call.

        Hysteresis: a call over `bound` breaks a streak towards promotion, but only
        one over `SLOW_FACTOR * bound` (10 ms by default) demotes an inline tool, so
        that a machine busy enough to delay a 5 µs call by a millisecond or two (a
        GIL hand-off, a preemption) does not flip a short tool back and forth.
        """
        if seconds <= bound:
            self.streak += 1
            if self.streak >= self.needed:
                self.inline = True
            return
        if self.inline and seconds <= SLOW_FACTOR * bound:
            return
        if self.inline:  # it was wrong about this tool once: ask for more proof
            self.needed = min(2 * self.needed, MAX_NEEDED)
        self.inline = False
        self.streak = 0


_records: weakref.WeakKeyDictionary[Callable[..., Any], ShortCalls] = weakref.WeakKeyDictionary()


def record_for(spec: ToolSpec) -> ShortCalls | None:
    """The tool's record, or None when the fast path does not apply to it: tools
    that said `inline=True` or `inline=False`, and async tools (already on the loop)."""
    if spec.inline is not None or spec.is_async:
        return None
    try:
        return _records.setdefault(spec.fn, ShortCalls())
    except TypeError:  # a callable that cannot be weakly referenced: stay threaded
        return None


_RUSAGE_THREAD: int | None = getattr(resource, "RUSAGE_THREAD", None) if resource else None


def _waits() -> int:
    """Voluntary context switches of this thread so far: it slept, read a socket, or
    waited for a lock (0 where not measurable)."""
    if _RUSAGE_THREAD is None:
        return 0
    return resource.getrusage(_RUSAGE_THREAD).ru_nvcsw  # type: ignore[union-attr]


def start_clock() -> tuple[float, float, int]:
    """Wall time, this thread's CPU time and its voluntary waits, before a call.

    The wall clock is read last: the two system calls before it are where a loaded
    machine preempts a thread, and that time belongs to no tool call."""
    cpu, waits = time.thread_time(), _waits()
    return time.perf_counter(), cpu, waits


def stop_clock(record: ShortCalls, bound: float, start: tuple[float, float, int]) -> float:
    """Record the call begun at `start`; returns its wall time.

    A call is slow because the tool computed for long (its thread's CPU time) or
    waited (a voluntary context switch: a sleep, a socket, a lock). On a machine
    loaded far past its cores a 5 µs call also takes 10–25 ms of wall time now and
    then with neither — the container was throttled or the CPU taken away, which
    shows up in no per-thread counter (measured at load 10–17: such calls demoted
    the no-op every few hundred calls). Those calls say nothing about the tool and
    are left out, neither short nor slow. Where voluntary waits cannot be counted
    (no RUSAGE_THREAD), wall time alone decides.
    """
    wall = time.perf_counter() - start[0]
    if (
        wall > bound
        and _RUSAGE_THREAD is not None
        and time.thread_time() - start[1] <= bound
        and _waits() == start[2]
    ):
        return wall
    record.observe(wall, bound)
    return wall


def timed_call(
    record: ShortCalls, bound: float, fn: Callable[..., Any], args: dict[str, Any]
) -> Any:
    """Call `fn` (in a worker thread) and record how long the call itself took."""
    start = start_clock()
    try:
        return fn(**args)
    finally:
        stop_clock(record, bound, start)
