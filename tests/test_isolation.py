"""Process isolation: a task that raises, hangs, exits or segfaults costs only itself."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from helpers.faulty_tools import registry as faulty_registry
from veritask import Budget, Orchestrator, Plan, Task
from veritask.runtime.result import RunResult
from veritask.tools import ToolRegistry, default_registry
from veritask.types import Backoff, EventType, OutcomeStatus, Policy, RunStatus

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the process backend forks")

ONCE = Policy(max_attempts=1)


@pytest.fixture
def registry() -> ToolRegistry:
    reg = faulty_registry.copy()
    reg.add(default_registry().get("calc"))
    return reg


def execute(registry: ToolRegistry, store_url: str, *tasks: Task) -> tuple[Orchestrator, RunResult]:
    orch = Orchestrator(store=store_url, registry=registry, backend="process")
    return orch, orch.execute(Plan(tasks=list(tasks)))


def error_of(result: RunResult, tid: str) -> tuple[str, str]:
    outcome = result.outcomes[tid]
    assert outcome.status is OutcomeStatus.FAILED, outcome
    assert outcome.error is not None
    return outcome.error.type, outcome.error.message


def test_every_kind_of_crash_is_a_failed_task_and_the_run_goes_on(
    registry: ToolRegistry, store_url: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "hung.pid"
    t0 = time.monotonic()
    orch, result = execute(
        registry,
        store_url,
        Task(id="raises", tool="raises", args={"message": "boom"}, policy=ONCE),
        Task(
            id="hangs",
            tool="hangs",
            args={"pid_file": str(pid_file)},
            policy=Policy(max_attempts=1, timeout_s=0.5),
        ),
        Task(id="exits", tool="exits", args={"code": 1}, policy=ONCE),
        Task(id="segfaults", tool="segfaults", args={"address": 0}, policy=ONCE),
        Task(id="fine", tool="calc", args={"expression": "40 + 2"}),
        Task(id="fine_after", tool="calc", args={"expression": "$fine * 2"}),
    )
    assert time.monotonic() - t0 < 10

    kind, message = error_of(result, "raises")
    assert kind == "RuntimeError" and "boom" in message

    kind, message = error_of(result, "hangs")
    assert kind == "TaskTimeout" and "timeout of 0.5s" in message

    kind, message = error_of(result, "exits")
    assert "exited with code 1" in message

    kind, message = error_of(result, "segfaults")
    assert "SIGSEGV" in message

    assert result.outcomes["fine"].value == 42
    assert result.outcomes["fine_after"].value == 84
    assert result.value == 84
    assert {e.type for e in orch.store.events(result.run_id)} >= {EventType.RUN_FINISHED}
    assert result.status is not RunStatus.SUCCEEDED
    for tid in ("raises", "hangs", "exits", "segfaults"):
        assert any(g.startswith(f"{tid} ({tid}) failed") for g in result.gaps), result.gaps

    # The hung worker was killed at its timeout, not left running.
    hung_pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(hung_pid, 0)


def test_worker_crashes_are_not_retried_but_retryable_errors_are(
    registry: ToolRegistry, store_url: str
) -> None:
    _, result = execute(
        registry,
        store_url,
        Task(id="exits", tool="exits", args={"code": 3}, policy=Policy(max_attempts=3)),
        Task(
            id="busy",
            tool="transient",
            args={"message": "busy"},
            policy=Policy(max_attempts=2, backoff=Backoff(initial_s=0.01)),
        ),
    )
    assert result.outcomes["exits"].attempts == 1
    busy = result.outcomes["busy"]
    assert busy.attempts == 2
    assert busy.error is not None
    assert (busy.error.type, busy.error.message, busy.error.retryable) == ("Busy", "busy", True)


def test_tools_run_in_another_process(registry: ToolRegistry, store_url: str) -> None:
    _, result = execute(
        registry,
        store_url,
        Task(id="p", tool="pid", args={"n": 0}),
        Task(id="d", tool="async_double", args={"n": 21}),
    )
    assert result.status is RunStatus.SUCCEEDED
    assert result.outcomes["p"].value != os.getpid()
    assert result.outcomes["d"].value == 42


def test_unpicklable_result_is_a_clear_failure(registry: ToolRegistry, store_url: str) -> None:
    _, result = execute(
        registry, store_url, Task(id="u", tool="returns_unpicklable", args={"n": 1}, policy=ONCE)
    )
    kind, message = error_of(result, "u")
    assert kind == "UnpicklableResult" and "cannot be sent back" in message


def test_run_budget_kills_a_hung_worker(
    registry: ToolRegistry, store_url: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "hung.pid"
    orch = Orchestrator(
        store=store_url, registry=registry, backend="process", budget=Budget(max_seconds=1.0)
    )
    t0 = time.monotonic()
    result = orch.execute(
        Plan(
            tasks=[
                Task(id="ok", tool="calc", args={"expression": "1"}),
                Task(id="hangs", tool="hangs", args={"pid_file": str(pid_file)}),
            ]
        )
    )
    assert time.monotonic() - t0 < 5
    kind, _ = error_of(result, "hangs")
    assert kind == "BudgetExceeded"
    assert result.outcomes["ok"].ok
    hung_pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(hung_pid, 0)
