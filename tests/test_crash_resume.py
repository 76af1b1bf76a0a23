"""SIGKILL a run mid-flight, resume it in a new process: nothing finished runs twice,
an interrupted non-idempotent task is `unknown`, an interrupted idempotent one re-runs."""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from helpers.processes import (
    VERITASK,
    calls_of,
    veritask_env,
    wait_for_calls,
    wait_lease_expired,
)
from veritask import Orchestrator, Plan, Task
from veritask.store import SQLiteRunStore
from veritask.tools import ToolRegistry
from veritask.types import EventType, OutcomeStatus, Policy, RunStatus

RUN_ID = "crash-run"

PLAN = {
    "goal": "survive a crash",
    "tasks": [
        {"id": "a", "tool": "crash_record", "args": {"name": "a", "value": 1}},
        {"id": "b", "tool": "crash_send_once", "args": {"name": "b", "value": 2}},
        {
            "id": "c",
            "tool": "crash_hold_once",
            "args": {"name": "c", "value": "$a"},
            "policy": {"optional": True},
        },
        {"id": "d", "tool": "crash_hold_idempotent", "args": {"name": "d", "value": "$b"}},
        {"id": "e", "tool": "crash_record", "args": {"name": "e", "value": "$d"}},
        {
            "id": "c2",
            "tool": "crash_record",
            "args": {"name": "c2", "value": "$c"},
            "policy": {"optional": True},
        },
        {"id": "total", "tool": "calc", "args": {"expression": "$a + $b + $d + $e"}},
    ],
}

STARTER = """
import sys
import helpers.crash_tools
from veritask import Orchestrator, Plan
plan = Plan.model_validate_json(open(sys.argv[2]).read())
Orchestrator(store=sys.argv[1]).execute(plan, run_id=sys.argv[3])
"""


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_run_then_resume_in_a_new_process(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    url = f"sqlite:///{db}"
    calls = tmp_path / "calls.txt"
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(PLAN))

    proc = subprocess.Popen(
        [sys.executable, "-c", STARTER, url, str(plan_file), RUN_ID],
        cwd=tmp_path,
        env=veritask_env(calls, block=True),
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_calls(calls, {"a", "b", "c", "d"}, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    # What the log held at the moment of the kill.
    store = SQLiteRunStore(db)
    before = store.events(RUN_ID)
    store.close()
    succeeded = {e.data["task_id"] for e in before if e.type == EventType.TASK_SUCCEEDED}
    started = {e.data["task_id"] for e in before if e.type == EventType.TASK_STARTED}
    assert succeeded == {"a", "b"}
    assert started == {"a", "b", "c", "d"}
    assert EventType.RUN_FINISHED not in {e.type for e in before}
    assert calls_of(calls) == Counter({"a": 1, "b": 1, "c": 1, "d": 1})

    wait_lease_expired(db, RUN_ID)  # the killed driver's lease just runs out
    resumed = subprocess.run(
        [
            str(VERITASK),
            "resume",
            RUN_ID,
            "--store",
            url,
            "--import",
            "helpers.crash_tools",
            "--json",
        ],
        cwd=tmp_path,
        env=veritask_env(calls, block=False),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode in (0, 1), resumed.stderr
    out = json.loads(resumed.stdout)

    # Nothing that had succeeded ran again; the idempotent interrupted task ran once more;
    # the non-idempotent interrupted one did not.
    assert calls_of(calls) == Counter({"a": 1, "b": 1, "c": 1, "d": 2, "e": 1})

    assert out["run_id"] == RUN_ID
    assert out["value"] == 7
    assert out["status"] == "partial"
    tasks = {t["id"]: t for t in out["tasks"]}
    assert {tid: t["status"] for tid, t in tasks.items()} == {
        "a": "succeeded",
        "b": "succeeded",
        "c": "unknown",
        "d": "succeeded",
        "e": "succeeded",
        "c2": "skipped",
        "total": "succeeded",
    }
    assert "idempotent" in tasks["c"]["error"]["message"]
    assert any(g.startswith("c (crash_hold_once) unknown") for g in out["gaps"])

    store = SQLiteRunStore(db)
    after = store.events(RUN_ID)
    store.close()
    assert after[: len(before)] == before  # the log was only appended to
    assert [e.seq for e in after] == list(range(1, len(after) + 1))
    new = after[len(before) :]
    assert new[0].type == EventType.RUN_RESUMED
    assert [e.data["task_id"] for e in new if e.type == EventType.TASK_UNKNOWN] == ["c"]
    rerun = [e.data["task_id"] for e in new if e.type == EventType.TASK_STARTED]
    assert sorted(rerun) == ["d", "e", "total"]
    assert new[-1].type == EventType.RUN_FINISHED


async def test_cancelled_run_is_interrupted_and_resumable(
    registry: ToolRegistry, store_url: str
) -> None:
    """Cancelling a run (what Ctrl-C does) logs RunInterrupted; resume finishes it."""
    release = asyncio.Event()
    calls: Counter[str] = Counter()

    @registry.tool(name="wait_idempotent", idempotent=True)
    async def wait_idempotent(n: int) -> int:
        calls["idempotent"] += 1
        await release.wait()
        return n

    @registry.tool(name="wait_once")
    async def wait_once(n: int) -> int:
        calls["once"] += 1
        await release.wait()
        return n

    plan = Plan(
        tasks=[
            Task(id="a", tool="calc", args={"expression": "1"}),
            Task(id="i", tool="wait_idempotent", args={"n": "$a"}),
            Task(id="o", tool="wait_once", args={"n": "$a"}, policy=Policy(optional=True)),
            Task(id="total", tool="calc", args={"expression": "$i + 1"}),
        ]
    )
    orch = Orchestrator(store=store_url, registry=registry)
    run = asyncio.create_task(orch.aexecute(plan, run_id="cancelled"))
    for _ in range(500):
        if calls["idempotent"] and calls["once"]:
            break
        await asyncio.sleep(0.01)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    state = orch.state("cancelled")
    assert state.status is RunStatus.INTERRUPTED
    assert set(state.started) == {"i", "o"}
    assert state.outcomes["a"].ok
    assert [r.status for r in orch.store.runs()] == [RunStatus.INTERRUPTED]

    release.set()
    result = await Orchestrator(store=store_url, registry=registry).aresume("cancelled")
    assert calls == Counter({"idempotent": 2, "once": 1})
    assert result.value == 2
    assert result.outcomes["o"].status is OutcomeStatus.UNKNOWN
    assert result.status is RunStatus.PARTIAL
    assert orch.state("cancelled").status is RunStatus.PARTIAL


def test_ctrl_c_interrupts_the_cli_and_resume_finishes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    calls = tmp_path / "calls.txt"
    plan = {
        "tasks": [
            {"id": "a", "tool": "crash_record", "args": {"name": "a", "value": 1}},
            {"id": "d", "tool": "crash_hold_idempotent", "args": {"name": "d", "value": "$a"}},
            {"id": "total", "tool": "calc", "args": {"expression": "$d + 1"}},
        ]
    }
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    common = ["--store", url, "--import", "helpers.crash_tools", "--json"]

    proc = subprocess.Popen(
        [str(VERITASK), "exec", str(plan_file), "--run-id", "int-run", *common],
        cwd=tmp_path,
        env=veritask_env(calls, block=True),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # A shell starts background jobs with SIGINT ignored, and children inherit
        # that; a user's terminal does not. Restore the default, as a terminal has it.
        preexec_fn=_default_sigint,
    )
    try:
        wait_for_calls(calls, {"a", "d"}, proc)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr.decode()
    [hint] = [
        line.split("continue with: ", 1)[1]
        for line in stderr.decode().splitlines()
        if "continue with: " in line
    ]
    assert hint.startswith("veritask resume int-run ")

    store = SQLiteRunStore(tmp_path / "runs.db")
    [summary] = store.runs()
    assert summary.status is RunStatus.INTERRUPTED
    assert store.events("int-run")[-1].type == EventType.RUN_INTERRUPTED
    store.close()

    # The hint works as printed, from another directory: it carries --store and --import.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    resumed = subprocess.run(
        [str(VERITASK), *shlex.split(hint)[1:], "--json"],
        cwd=elsewhere,
        env=veritask_env(calls, block=False),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert (out["status"], out["value"]) == ("succeeded", 2)
    assert calls_of(calls) == Counter({"a": 1, "d": 2})
