"""Bounded retries, timeouts, backoff, optional tasks and run budgets (inline backend)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from veritask import Budget, Orchestrator, Plan, Task, ToolError
from veritask.budget import current_meter
from veritask.runtime.result import RunResult
from veritask.runtime.scheduler import RuntimeOptions
from veritask.tools import ToolRegistry
from veritask.types import Backoff, Event, EventType, OutcomeStatus, Policy, RunStatus, Usage


class Calls:
    """Counts calls per tool name."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def hit(self, name: str) -> int:
        self.counts[name] = self.counts.get(name, 0) + 1
        return self.counts[name]

    def __getitem__(self, name: str) -> int:
        return self.counts.get(name, 0)


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make(registry: ToolRegistry, sleeps: list[float]) -> Callable[..., Orchestrator]:
    """An orchestrator on a memory store whose backoff sleeps are recorded, not slept."""

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    def build(**kw: Any) -> Orchestrator:
        options = RuntimeOptions(sleep=fake_sleep, rand=lambda: 0.5)
        return Orchestrator(store="memory://", registry=registry, options=options, **kw)

    return build


@pytest.fixture
def tools(registry: ToolRegistry, calls: Calls) -> ToolRegistry:
    @registry.tool
    def transient(x: int = 0) -> int:
        calls.hit("transient")
        raise ToolError("the source is busy", retryable=True)

    @registry.tool
    def broken(x: int = 0) -> int:
        calls.hit("broken")
        raise ToolError("no such record")

    @registry.tool
    def buggy(x: int = 0) -> int:
        calls.hit("buggy")
        raise ValueError("bug in the tool")

    @registry.tool
    async def hangs(x: int = 0) -> int:
        calls.hit("hangs")
        await asyncio.sleep(30)
        return 1

    @registry.tool
    def flaky_then_ok(x: int = 0) -> int:
        if calls.hit("flaky_then_ok") < 3:
            raise ToolError("try again", retryable=True)
        return 42

    return registry


def run(orch: Orchestrator, *tasks: Task, template: str | None = None) -> RunResult:
    return orch.execute(Plan(tasks=list(tasks), answer_template=template))


def events(orch: Orchestrator, result: RunResult, etype: EventType) -> list[Event]:
    return [e for e in orch.store.events(result.run_id) if e.type == etype]


def task(tid: str, tool: str, policy: Policy | None = None, **args: Any) -> Task:
    return Task(id=tid, tool=tool, args=args, policy=policy)


# -- retries -------------------------------------------------------------------


@pytest.mark.parametrize("max_attempts", [1, 2, 5])
def test_retryable_failure_is_tried_exactly_max_attempts_times(
    tools: ToolRegistry, calls: Calls, make: Callable[..., Orchestrator], max_attempts: int
) -> None:
    orch = make()
    result = run(orch, task("t", "transient", Policy(max_attempts=max_attempts)))
    assert calls["transient"] == max_attempts
    outcome = result.outcomes["t"]
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.attempts == max_attempts
    assert outcome.error is not None and outcome.error.retryable
    assert "busy" in outcome.error.message
    assert len(events(orch, result, EventType.TASK_RETRYING)) == max_attempts - 1
    assert len(events(orch, result, EventType.TASK_STARTED)) == max_attempts


def test_default_policy_allows_three_attempts(
    tools: ToolRegistry, calls: Calls, make: Callable[..., Orchestrator], sleeps: list[float]
) -> None:
    result = run(make(), task("t", "transient"))
    assert calls["transient"] == 3
    assert result.outcomes["t"].attempts == 3
    # Default backoff 0.2s * 2**n with jitter 0.5, rand() = 0.5: 0.75 of each base delay.
    assert sleeps == pytest.approx([0.15, 0.3])


def test_retry_that_later_succeeds(
    tools: ToolRegistry, calls: Calls, make: Callable[..., Orchestrator]
) -> None:
    result = run(make(), task("t", "flaky_then_ok"))
    assert result.status is RunStatus.SUCCEEDED
    assert result.value == 42
    assert result.outcomes["t"].attempts == 3


@pytest.mark.parametrize(("tool", "etype"), [("broken", "ToolError"), ("buggy", "ValueError")])
def test_non_retryable_errors_are_not_retried(
    tools: ToolRegistry, calls: Calls, make: Callable[..., Orchestrator], tool: str, etype: str
) -> None:
    orch = make()
    result = run(orch, task("t", tool, Policy(max_attempts=5)))
    assert calls[tool] == 1
    outcome = result.outcomes["t"]
    assert outcome.status is OutcomeStatus.FAILED and outcome.attempts == 1
    assert outcome.error is not None
    assert outcome.error.type == etype and not outcome.error.retryable
    assert events(orch, result, EventType.TASK_RETRYING) == []


def test_hanging_async_tool_times_out(
    tools: ToolRegistry, calls: Calls, make: Callable[..., Orchestrator]
) -> None:
    t0 = time.monotonic()
    result = run(make(), task("t", "hangs", Policy(timeout_s=0.05, max_attempts=1)))
    assert time.monotonic() - t0 < 2
    outcome = result.outcomes["t"]
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.error is not None and outcome.error.type == "TaskTimeout"
    assert "0.05s" in outcome.error.message and "'t'" in outcome.error.message


def test_timeouts_are_retried(
    tools: ToolRegistry, calls: Calls, make: Callable[..., Orchestrator]
) -> None:
    result = run(make(), task("t", "hangs", Policy(timeout_s=0.02, max_attempts=2)))
    assert calls["hangs"] == 2
    assert result.outcomes["t"].attempts == 2


def test_hanging_sync_tool_times_out(registry: ToolRegistry, make: Callable[..., Orchestrator]):
    @registry.tool
    def slow_sync() -> int:
        time.sleep(1.0)
        return 1

    t0 = time.monotonic()
    result = run(make(), task("t", "slow_sync", Policy(timeout_s=0.03, max_attempts=1)))
    assert time.monotonic() - t0 < 0.8  # the run does not wait for the stuck thread
    error = result.outcomes["t"].error
    assert error is not None and error.type == "TaskTimeout"


# -- backoff -------------------------------------------------------------------


def test_backoff_delays_follow_initial_times_factor_with_jitter(
    tools: ToolRegistry, make: Callable[..., Orchestrator], sleeps: list[float]
) -> None:
    backoff = Backoff(initial_s=1, factor=3, max_s=10, jitter=0.5)
    orch = make()
    t0 = time.monotonic()
    result = run(orch, task("t", "transient", Policy(max_attempts=5, backoff=backoff)))
    assert time.monotonic() - t0 < 5  # 17 seconds of backoff, none of it slept for real
    # rand() = 0.5 and jitter 0.5: each delay is base * (0.5 + 0.5 * 0.5) = 0.75 * base.
    bases = [1, 3, 9, 10]  # 27 is capped at max_s
    assert sleeps == pytest.approx([0.75 * b for b in bases])
    recorded = [e.data["delay_s"] for e in events(orch, result, EventType.TASK_RETRYING)]
    assert recorded == pytest.approx(sleeps)
    assert [e.data["attempt"] for e in events(orch, result, EventType.TASK_RETRYING)] == [
        1,
        2,
        3,
        4,
    ]


def test_backoff_without_jitter_ignores_randomness(
    tools: ToolRegistry, make: Callable[..., Orchestrator], sleeps: list[float]
) -> None:
    backoff = Backoff(initial_s=0.2, factor=2, max_s=10, jitter=0)
    run(make(), task("t", "transient", Policy(max_attempts=4, backoff=backoff)))
    assert sleeps == pytest.approx([0.2, 0.4, 0.8])


# -- policy layers -------------------------------------------------------------


def test_tool_defaults_and_task_policy_overrides(
    registry: ToolRegistry, calls: Calls, make: Callable[..., Orchestrator]
) -> None:
    @registry.tool(name="flaky", retries=2, timeout_s=0.02)
    async def flaky(n: int) -> int:
        calls.hit(f"flaky{n}")
        if n >= 3:
            await asyncio.sleep(0.2)
            return n
        raise ToolError("busy", retryable=True)

    result = run(
        make(),
        task("tool_default", "flaky", n=1),
        task("task_override", "flaky", Policy(max_attempts=1), n=2),
        task("slow_but_allowed", "flaky", Policy(timeout_s=5), n=3),
        task("slow_too_slow", "flaky", Policy(max_attempts=1), n=4),
    )
    assert calls["flaky1"] == 3  # retries=2 means three attempts
    assert calls["flaky2"] == 1
    assert result.outcomes["slow_but_allowed"].status is OutcomeStatus.SUCCEEDED
    too_slow = result.outcomes["slow_too_slow"]
    assert too_slow.error is not None and too_slow.error.type == "TaskTimeout"


def test_tool_defaults_override_the_run_policy(
    tools: ToolRegistry, calls: Calls, make: Callable[..., Orchestrator]
) -> None:
    @tools.tool(name="once", retries=0)
    def once() -> int:
        calls.hit("once")
        raise ToolError("busy", retryable=True)

    orch = make(policy=Policy(max_attempts=4))
    run(orch, task("a", "transient"), task("b", "once"))
    assert calls["transient"] == 4  # run policy
    assert calls["once"] == 1  # the tool's own default wins over the run's


# -- optional and required failures ---------------------------------------------


def test_required_failure_skips_dependents_and_fails_the_run(
    tools: ToolRegistry, make: Callable[..., Orchestrator]
) -> None:
    result = run(
        make(),
        task("a", "broken"),
        task("a2", "calc", expression="$a * 2"),
        task("b", "calc", expression="5"),
        task("total", "calc", expression="$a2 + $b"),
    )
    assert result.status is RunStatus.FAILED
    assert result.value is None
    statuses = {tid: o.status for tid, o in result.outcomes.items()}
    assert statuses == {
        "a": OutcomeStatus.FAILED,
        "a2": OutcomeStatus.SKIPPED,
        "b": OutcomeStatus.SUCCEEDED,
        "total": OutcomeStatus.SKIPPED,
    }
    gaps = "\n".join(result.gaps)
    assert "a (broken) failed: no such record" in gaps
    for tid in ("a2", "total"):
        assert f"{tid} (calc) skipped" in gaps


def test_required_failure_fails_the_run_even_if_the_final_value_exists(
    tools: ToolRegistry, make: Callable[..., Orchestrator]
) -> None:
    result = run(make(), task("a", "broken"), task("b", "calc", expression="5"))
    assert result.outcomes["b"].ok
    assert result.status is RunStatus.FAILED


def test_optional_failure_is_a_gap_and_the_run_is_partial(
    tools: ToolRegistry, make: Callable[..., Orchestrator]
) -> None:
    optional = Policy(optional=True)
    result = run(
        make(),
        task("a", "broken", optional),
        task("a2", "calc", optional, expression="$a * 2"),
        task("b", "calc", expression="5"),
        task("total", "calc", expression="$b + 1"),
    )
    assert result.status is RunStatus.PARTIAL
    assert result.value == 6
    assert result.outcomes["a"].status is OutcomeStatus.FAILED
    assert result.outcomes["a2"].status is OutcomeStatus.SKIPPED
    assert any(g.startswith("a (broken) failed") for g in result.gaps)
    assert any(g.startswith("a2 (calc) skipped") for g in result.gaps)


def test_optional_failure_that_leaves_no_value_fails_the_run(
    tools: ToolRegistry, make: Callable[..., Orchestrator]
) -> None:
    # "partial" promises a value with gaps; with no template and the final task skipped
    # there is no value at all (as when a budget runs out before the value exists).
    result = run(
        make(),
        task("a", "broken", Policy(optional=True)),
        task("final", "calc", expression="$a + 1"),
    )
    assert result.value is None
    assert result.status is RunStatus.FAILED


def test_optional_gap_in_the_answer_template_is_visible(
    tools: ToolRegistry, make: Callable[..., Orchestrator]
) -> None:
    result = run(
        make(),
        task("a", "broken", Policy(optional=True)),
        task("b", "calc", expression="5"),
        template="b is {$b}; a is {$a}.",
    )
    assert result.status is RunStatus.PARTIAL
    assert result.value is None  # no placeholder value: the gap is named instead
    assert any(g.startswith("a (broken)") for g in result.gaps)


# -- budgets -------------------------------------------------------------------


def test_max_tasks_stops_scheduling(
    registry: ToolRegistry, calls: Calls, make: Callable[..., Orchestrator]
) -> None:
    @registry.tool
    def count(n: int) -> int:
        calls.hit("count")
        return n

    orch = make(budget=Budget(max_tasks=2), concurrency=1)
    result = run(orch, *(task(f"t{i}", "count", n=i) for i in range(4)))
    assert calls["count"] == 2
    [exceeded] = events(orch, result, EventType.BUDGET_EXCEEDED)
    assert exceeded.data["resource"] == "tasks" and exceeded.data["limit"] == 2
    assert [result.outcomes[f"t{i}"].status for i in range(4)] == [
        OutcomeStatus.SUCCEEDED,
        OutcomeStatus.SUCCEEDED,
        OutcomeStatus.SKIPPED,
        OutcomeStatus.SKIPPED,
    ]
    assert result.status is RunStatus.FAILED
    assert any("budget for tasks exceeded" in g for g in result.gaps)
    assert any(g.startswith("t3 (count) skipped") for g in result.gaps)


def test_max_seconds_cancels_a_slow_run(
    tools: ToolRegistry, make: Callable[..., Orchestrator]
) -> None:
    orch = make(budget=Budget(max_seconds=0.5))
    t0 = time.monotonic()
    result = run(
        orch,
        task("fast", "calc", expression="1"),
        task("slow", "hangs"),
        task("after_slow", "calc", expression="$slow + 1"),
    )
    assert time.monotonic() - t0 < 3
    assert result.outcomes["fast"].ok
    slow = result.outcomes["slow"]
    assert slow.status is OutcomeStatus.FAILED
    assert slow.error is not None and slow.error.type == "BudgetExceeded"
    assert result.outcomes["after_slow"].status is OutcomeStatus.SKIPPED
    [exceeded] = events(orch, result, EventType.BUDGET_EXCEEDED)
    assert exceeded.data["resource"] == "seconds"
    assert result.status is RunStatus.FAILED
    assert events(orch, result, EventType.RUN_FINISHED)


def test_token_budget_charged_inside_a_tool(
    registry: ToolRegistry, make: Callable[..., Orchestrator]
) -> None:
    @registry.tool
    async def spend(tokens: int, step: int) -> int:
        meter = current_meter()
        assert meter is not None, "a tool runs with its run's budget meter bound"
        meter.charge(Usage(input_tokens=tokens, output_tokens=1))
        return step

    orch = make(budget=Budget(max_tokens=1000))
    result = run(
        orch,
        task("one", "spend", tokens=600, step=1),
        Task(id="two", tool="spend", args={"tokens": 600, "step": 2}, after=["one"]),
        Task(id="three", tool="spend", args={"tokens": 1, "step": 3}, after=["two"]),
    )
    assert result.outcomes["one"].ok
    two = result.outcomes["two"]
    assert two.status is OutcomeStatus.FAILED
    assert two.error is not None and two.error.type == "BudgetExceeded"
    assert result.outcomes["three"].status is OutcomeStatus.SKIPPED
    [exceeded] = events(orch, result, EventType.BUDGET_EXCEEDED)
    assert exceeded.data["resource"] == "tokens"
    assert exceeded.data["limit"] == 1000 and exceeded.data["used"] == 1202
    assert result.usage.input_tokens == 1200
    assert result.usage.output_tokens == 2
    assert any("budget for tokens exceeded" in g for g in result.gaps)


def test_usage_charged_within_budget_is_reported(
    registry: ToolRegistry, make: Callable[..., Orchestrator]
) -> None:
    @registry.tool
    def sync_spend(tokens: int) -> int:
        meter = current_meter()
        assert meter is not None, "sync tools run in a thread with the meter's context"
        meter.charge(Usage(input_tokens=tokens, cost_usd=0.01))
        return tokens

    result = run(make(budget=Budget(max_tokens=1000)), task("a", "sync_spend", tokens=300))
    assert result.status is RunStatus.SUCCEEDED
    assert result.usage.input_tokens == 300
    assert result.usage.cost_usd == pytest.approx(0.01)
