"""Settling a task left `unknown` by a crash, then resuming."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veritask import Orchestrator, Plan, Task, UserError, tool
from veritask.cli import app
from veritask.runtime.eventlog import EventLog
from veritask.types import EventType

SUFFIX = uuid.uuid4().hex[:6]
SENT: list[str] = []


@tool(name=f"send_{SUFFIX}")  # not idempotent: a crash mid-call leaves it unknown
def send(to: str) -> str:
    SENT.append(to)
    return f"sent to {to}"


PLAN = Plan(
    tasks=[
        Task(id="mail", tool=f"send_{SUFFIX}", args={"to": "ada"}),
        Task(id="after", tool="calc", args={"expression": "2 + 3"}, after=["mail"]),
    ],
    answer_template="{$mail}; {$after}",
)


def crashed_run(orch: Orchestrator) -> str:
    """A run whose `mail` task started and then the process died (no terminal event)."""
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    log = EventLog(orch.store, run_id)
    log.emit(EventType.RUN_STARTED, {"goal": "mail", "options": {}})
    log.emit(EventType.PLAN_ACCEPTED, {"plan": PLAN.model_dump(mode="json")})
    log.emit(EventType.TASK_STARTED, {"task_id": "mail", "attempt": 1})
    log.flush()
    first = orch.resume(run_id)
    assert first.outcomes["mail"].status.value == "unknown"
    assert "veritask settle" in (first.outcomes["mail"].error.message or "")  # type: ignore[union-attr]
    assert first.outcomes["after"].status.value == "skipped"
    assert first.status.value == "failed"
    return run_id


def test_settled_as_done_keeps_the_value_and_runs_what_waited_for_it() -> None:
    orch = Orchestrator("memory://", memory=False)
    run_id = crashed_run(orch)
    SENT.clear()
    orch.settle(run_id, "mail", done=True, value="sent to ada")
    result = orch.resume(run_id)
    assert result.status.value == "succeeded"
    assert result.value == "sent to ada; 5"
    assert SENT == []  # the side effect is not repeated
    events = [e.type for e in orch.store.events(run_id)]
    assert EventType.TASK_SETTLED in events and events[-1] == EventType.RUN_FINISHED


def test_settled_as_not_done_runs_it_again() -> None:
    orch = Orchestrator("memory://", memory=False)
    run_id = crashed_run(orch)
    SENT.clear()
    orch.settle(run_id, "mail", done=False)
    result = orch.resume(run_id)
    assert result.status.value == "succeeded" and SENT == ["ada"]


def test_only_unknown_tasks_are_settled() -> None:
    orch = Orchestrator("memory://", memory=False)
    run_id = crashed_run(orch)
    with pytest.raises(UserError, match="not unknown"):
        orch.settle(run_id, "after", done=True, value=1)
    with pytest.raises(UserError, match="no task 'nope'"):
        orch.settle(run_id, "nope", done=True, value=1)


def test_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path}/runs.db"
    orch = Orchestrator(store, memory=False)
    run_id = crashed_run(orch)
    runner = CliRunner()
    neither = runner.invoke(app, ["settle", run_id, "mail", "--store", store])
    assert neither.exit_code == 2 and "--done VALUE or --not-done" in neither.stderr
    done = runner.invoke(
        app, ["settle", run_id, "mail", "--done", json.dumps("sent to ada"), "--store", store]
    )
    assert done.exit_code == 0, done.stderr
    assert f"veritask resume {run_id}" in done.stderr
    resumed = runner.invoke(app, ["resume", run_id, "--store", store, "--json"])
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout)["value"] == "sent to ada; 5"
