"""The default sync tool's fast path: threaded until proved short, then on the loop.

Durations are controlled, not measured: the short bound is raised so that a
no-op always counts as short on a loaded machine, and slow calls sleep far
past it. No assertion is about how long anything took.
"""

from __future__ import annotations

import threading
import time

import pytest

from veritask import Orchestrator, Plan, Task
from veritask.runtime.backends import InlineBackend, short_calls
from veritask.runtime.backends.short_calls import PROBE_CALLS, ShortCalls, record_for
from veritask.tools import ToolRegistry
from veritask.types import OutcomeStatus, Policy


@pytest.fixture(autouse=True)
def generous_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A no-op is short by any measure: 0.2 s (or 1 % of the timeout) as the bound."""
    monkeypatch.setattr(short_calls, "SHORT_S", 0.2)


def chain(tool: str, n: int, policy: Policy | None = None) -> Plan:
    tasks = [Task(id="t0", tool=tool, args={"x": 0}, policy=policy)]
    tasks += [
        Task(id=f"t{i}", tool=tool, args={"x": f"$t{i - 1}"}, policy=policy) for i in range(1, n)
    ]
    return Plan(tasks=tasks)


def on_loop(threads: list[str]) -> list[bool]:
    return [not name.startswith("veritask-tool") for name in threads]


def test_default_tool_runs_threaded_until_proved_short_then_on_the_loop(
    registry: ToolRegistry,
) -> None:
    threads: list[str] = []

    @registry.tool
    def step(x: int) -> int:
        threads.append(threading.current_thread().name)
        return x + 1

    result = Orchestrator(store="memory://", registry=registry).execute(chain("step", 20))
    assert result.status.value == "succeeded" and result.value == 20
    assert on_loop(threads) == [False] * PROBE_CALLS + [True] * (20 - PROBE_CALLS)


@pytest.mark.parametrize("inline", [False, True])
def test_an_explicit_choice_is_never_overridden(registry: ToolRegistry, inline: bool) -> None:
    threads: list[str] = []

    @registry.tool(inline=inline)
    def step(x: int) -> int:
        threads.append(threading.current_thread().name)
        return x + 1

    Orchestrator(store="memory://", registry=registry).execute(chain("step", 3 * PROBE_CALLS))
    assert on_loop(threads) == [inline] * (3 * PROBE_CALLS)
    assert record_for(registry.get("step")) is None


def test_adaptive_off_keeps_every_call_in_a_thread(registry: ToolRegistry) -> None:
    threads: list[str] = []

    @registry.tool
    def step(x: int) -> int:
        threads.append(threading.current_thread().name)
        return x + 1

    orch = Orchestrator(store="memory://", registry=registry, backend=InlineBackend(adaptive=False))
    orch.execute(chain("step", 2 * PROBE_CALLS))
    assert on_loop(threads) == [False] * (2 * PROBE_CALLS)


def test_a_slow_call_on_the_loop_sends_the_tool_back_to_the_thread(
    registry: ToolRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(short_calls, "SHORT_S", 0.01)  # slow = over 100 ms
    threads: list[str] = []
    slow_at = PROBE_CALLS + 2

    @registry.tool
    def step(x: int) -> int:
        threads.append(threading.current_thread().name)
        if x == slow_at:
            time.sleep(0.5)
        return x + 1

    record = record_for(registry.get("step"))
    assert record is not None
    record.inline, record.streak = True, PROBE_CALLS  # already proved short

    result = Orchestrator(store="memory://", registry=registry).execute(chain("step", 16))
    assert result.status.value == "succeeded"
    loop = on_loop(threads)
    assert all(loop[: slow_at + 1])  # up to and including the slow call
    # Demoted: the next 2 * PROBE_CALLS calls must prove themselves in a thread again.
    assert loop[slow_at + 1 :] == [False] * (16 - slow_at - 1)
    assert record.needed == 2 * PROBE_CALLS and not record.inline


def test_an_inline_call_past_its_timeout_is_reported_as_a_timeout(
    registry: ToolRegistry,
) -> None:
    @registry.tool
    def stalls(x: int) -> int:
        time.sleep(0.3)
        return x

    record = record_for(registry.get("stalls"))
    assert record is not None
    record.inline = True  # proved short before; now it stalls
    plan = Plan(
        tasks=[
            Task(
                id="t", tool="stalls", args={"x": 1}, policy=Policy(timeout_s=0.05, max_attempts=1)
            )
        ]
    )
    result = Orchestrator(store="memory://", registry=registry).execute(plan)
    outcome = result.outcomes["t"]
    assert outcome.status is OutcomeStatus.FAILED and outcome.value is None
    assert outcome.error is not None and outcome.error.type == "TaskTimeout"
    assert not record.inline


def test_short_calls_promote_after_a_streak_and_tolerate_small_delays() -> None:
    r = ShortCalls()
    for _ in range(PROBE_CALLS - 1):
        r.observe(0.0001, 0.001)
    assert not r.inline
    r.observe(0.005, 0.001)  # over the bound while probing: the streak starts again
    assert not r.inline and r.streak == 0
    for _ in range(PROBE_CALLS):
        r.observe(0.0001, 0.001)
    assert r.inline
    r.observe(0.005, 0.001)  # a hiccup under ten bounds does not demote
    assert r.inline
    r.observe(0.011, 0.001)
    assert not r.inline and r.needed == 2 * PROBE_CALLS


def test_async_tools_have_no_record(registry: ToolRegistry) -> None:
    @registry.tool
    async def fetch(x: int) -> int:
        return x

    assert record_for(registry.get("fetch")) is None


def test_demotions_ask_for_more_proof_up_to_a_ceiling() -> None:
    r = ShortCalls()
    for _ in range(20):
        r.inline = True
        r.observe(1.0, 0.001)
    assert not r.inline and r.needed == short_calls.MAX_NEEDED


@pytest.mark.skipif(short_calls._RUSAGE_THREAD is None, reason="needs per-thread rusage")
def test_a_call_delayed_by_the_machine_is_not_counted_but_one_that_waited_is() -> None:
    r = ShortCalls()
    r.inline = True
    now = time.perf_counter()
    # A second of wall time, but no CPU time and no wait of its own: throttled, stolen.
    short_calls.stop_clock(r, 0.001, (now - 1.0, time.thread_time(), short_calls._waits()))
    assert r.inline and r.streak == 0
    # The same second with one voluntary wait (a sleep, a socket): the tool was slow.
    short_calls.stop_clock(r, 0.001, (now - 1.0, time.thread_time(), short_calls._waits() - 1))
    assert not r.inline


def test_only_the_function_is_timed_not_the_work_around_it(
    registry: ToolRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slow argument handling (or a preemption while preparing) says nothing about the
    tool: a proved-short tool stays on the loop however long the preparation takes."""
    from veritask.runtime import tool_call

    monkeypatch.setattr(short_calls, "SHORT_S", 0.005)  # slow = over 50 ms on the loop
    threads: list[str] = []

    @registry.tool
    def step(x: int) -> int:
        threads.append(threading.current_thread().name)
        return x + 1

    orch = Orchestrator(store="memory://", registry=registry)
    orch.execute(chain("step", PROBE_CALLS + 1))
    assert on_loop(threads)[-1] is True
    real_prepare = tool_call.prepare

    def slow_prepare(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.08)
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr(tool_call, "prepare", slow_prepare)
    threads.clear()
    orch.execute(chain("step", 3))
    assert on_loop(threads) == [True, True, True]
    record = record_for(registry.get("step"))
    assert record is not None and record.inline
