"""The public API: `veritask.__all__` is exactly what is public, and the documented calls work."""

from __future__ import annotations
import __future__

import types
from pathlib import Path

import pytest

import veritask
from veritask import Budget, Orchestrator, Plan, Task, tool
from veritask.errors import PlanError, RunNotFoundError, UserError
from veritask.runtime.result import RunResult
from veritask.runtime.scheduler import RuntimeOptions
from veritask.store import SQLiteRunStore
from veritask.types import Event, EventType, OutcomeStatus, RunStatus

DOCUMENTED = {
    # entry points
    "Orchestrator",
    "RunResult",
    "tool",
    "ToolRegistry",
    "ToolResult",
    "Toolkit",
    "Question",
    # core types
    "Answer",
    "Backoff",
    "Confidence",
    "Event",
    "Outcome",
    "Plan",
    "Policy",
    "Source",
    "Task",
    "Usage",
    # configuration
    "Budget",
    "Settings",
    # errors
    "VeritaskError",
    "UserError",
    "PlanError",
    "ConfigError",
    "ToolError",
    "BudgetExceeded",
}

PLAN = Plan(
    goal="add",
    tasks=[
        Task(id="a", tool="calc", args={"expression": "2"}),
        Task(id="b", tool="calc", args={"expression": "$a * 21"}),
    ],
)


def test_all_is_the_documented_public_surface() -> None:
    assert set(veritask.__all__) == DOCUMENTED
    assert len(veritask.__all__) == len(set(veritask.__all__))


def test_every_public_name_imports() -> None:
    for name in veritask.__all__:
        assert getattr(veritask, name) is not None, name
    namespace: dict[str, object] = {}
    exec(f"from veritask import {', '.join(veritask.__all__)}", namespace)
    assert set(veritask.__all__) <= set(namespace)


def test_nothing_public_is_missing_from_all() -> None:
    public = {
        name
        for name, value in vars(veritask).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    }
    assert public == set(veritask.__all__)


def test_documented_imports() -> None:
    assert callable(tool)
    assert Orchestrator is veritask.Orchestrator
    assert issubclass(PlanError, veritask.VeritaskError)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check_result(result: RunResult) -> None:
    assert isinstance(result, RunResult)
    assert result.status is RunStatus.SUCCEEDED
    assert result.value == 42
    assert set(result.outcomes) == {"a", "b"}
    assert result.outcomes["b"].status is OutcomeStatus.SUCCEEDED
    assert isinstance(result.run_id, str) and result.run_id


def test_execute_and_resume_with_a_store_url(in_tmp: Path) -> None:
    orch = Orchestrator(store="sqlite:///path.db")
    result = orch.execute(PLAN)
    check_result(result)
    assert (in_tmp / "path.db").exists()
    assert not (in_tmp / ".veritask").exists()

    n_events = len(orch.store.events(result.run_id))
    again = Orchestrator(store="sqlite:///path.db").resume(result.run_id)
    check_result(again)
    assert again.run_id == result.run_id
    assert len(orch.store.events(result.run_id)) == n_events


def test_execute_accepts_a_dict_or_a_json_file(in_tmp: Path) -> None:
    orch = Orchestrator(store=SQLiteRunStore(in_tmp / "runs.db"))
    check_result(orch.execute(PLAN.model_dump()))
    plan_file = in_tmp / "plan.json"
    plan_file.write_text(PLAN.model_dump_json())
    check_result(orch.execute(plan_file))
    check_result(orch.execute(str(plan_file)))


def test_invalid_plan_raises_plan_error_with_every_problem(in_tmp: Path) -> None:
    bad = Plan(tasks=[Task(id="a", tool="nope"), Task(id="b", tool="calc", args={"x": "$zz"})])
    with pytest.raises(PlanError) as info:
        Orchestrator(store="memory://").execute(bad)
    assert {(p.code, p.task_id) for p in info.value.problems} >= {
        ("unknown_tool", "a"),
        ("missing_ref", "b"),
    }


def test_resume_of_an_unknown_run(in_tmp: Path) -> None:
    with pytest.raises(RunNotFoundError, match="nope"):
        Orchestrator(store="sqlite:///path.db").resume("nope")


async def test_async_twins(in_tmp: Path) -> None:
    orch = Orchestrator(store="sqlite:///path.db")
    result = await orch.aexecute(PLAN, run_id="async-run")
    check_result(result)
    assert result.run_id == "async-run"
    check_result(await orch.aresume("async-run"))


async def test_sync_api_inside_an_event_loop_points_to_the_async_twin(in_tmp: Path) -> None:
    with pytest.raises(UserError, match="await"):
        Orchestrator(store="memory://").execute(PLAN)


def test_listeners_see_every_durable_event_in_order(in_tmp: Path) -> None:
    seen: list[Event] = []
    orch = Orchestrator(store="sqlite:///path.db", listeners=[seen.append])
    result = orch.execute(PLAN)
    assert seen == orch.store.events(result.run_id)
    assert seen[0].type is EventType.RUN_STARTED and seen[-1].type is EventType.RUN_FINISHED


def test_settings_from_the_environment_apply(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERITASK_BUDGET__MAX_TASKS", "1")
    monkeypatch.setenv("VERITASK_CONCURRENCY", "3")
    orch = Orchestrator(store="memory://")
    assert (orch.options.budget.max_tasks, orch.options.concurrency) == (1, 3)
    assert orch.execute(PLAN).status is RunStatus.FAILED  # the second task is over budget
    explicit = Orchestrator(store="memory://", budget=Budget(max_tasks=5), concurrency=2)
    assert (explicit.options.budget.max_tasks, explicit.options.concurrency) == (5, 2)


def test_injecting_runtime_options_does_not_drop_the_configured_limits(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Options exist to inject a clock, sleep or randomness; passing them must not
    # silently replace the configured budget and concurrency with "unlimited".
    monkeypatch.setenv("VERITASK_BUDGET__MAX_TASKS", "1")
    monkeypatch.setenv("VERITASK_CONCURRENCY", "3")
    orch = Orchestrator(store="memory://", options=RuntimeOptions(rand=lambda: 0.5))
    assert (orch.options.budget.max_tasks, orch.options.concurrency) == (1, 3)
    assert orch.execute(PLAN).status is RunStatus.FAILED
