"""One driver per run, with real processes: `exec` SIGKILLed mid-run, then two
`veritask resume` started together — exactly one drives and no task runs twice;
`resume` while `exec` is alive is refused; after a SIGKILL, resume works once the
dead driver's lease has expired."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from helpers.processes import (
    LEDGER_HELD,
    LEDGER_NAMES,
    LEDGER_PLAN,
    VERITASK,
    assert_one_consistent_log,
    calls_of,
    run_log,
    sigkill,
    veritask_env,
    wait_for_calls,
    wait_lease_expired,
)
from veritask.store import SQLiteRunStore
from veritask.store.base import Lease
from veritask.types import Event, EventType

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

RUN_ID = "ledger-run"
NAMES, HELD, PLAN = LEDGER_NAMES, LEDGER_HELD, LEDGER_PLAN


def _cmd(tmp_path: Path, *args: str) -> list[str]:
    return [
        str(VERITASK),
        *args,
        "--store",
        f"sqlite:///{tmp_path / 'runs.db'}",
        "--import",
        "helpers.crash_tools",
        "--json",
    ]


def _start_exec(tmp_path: Path, ledger: Path) -> subprocess.Popen[bytes]:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(PLAN))
    return subprocess.Popen(
        _cmd(tmp_path, "exec", str(plan_file), "--run-id", RUN_ID, "--concurrency", "4"),
        cwd=tmp_path,
        env=veritask_env(ledger, block=True),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _exec_then_sigkill(tmp_path: Path, ledger: Path) -> None:
    proc = _start_exec(tmp_path, ledger)
    try:
        wait_for_calls(ledger, set(NAMES[:10]) | HELD, proc)
    finally:
        sigkill(proc)
    assert proc.returncode == -signal.SIGKILL


def _log(tmp_path: Path) -> list[Event]:
    return run_log(tmp_path / "runs.db", RUN_ID)


def _lease(tmp_path: Path) -> Lease | None:
    store = SQLiteRunStore(tmp_path / "runs.db")
    try:
        return store.lease(RUN_ID)
    finally:
        store.close()


def _assert_one_consistent_log(log: list[Event]) -> None:
    assert_one_consistent_log(log, NAMES)


def test_two_resumers_at_once_exactly_one_drives(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.txt"
    _exec_then_sigkill(tmp_path, ledger)
    wait_lease_expired(tmp_path / "runs.db", RUN_ID)

    # The gate keeps the winner driving (and holding the lease) until the loser is done.
    gate = tmp_path / "gate"
    gate.touch()
    env = {**veritask_env(ledger, block=False), "VERITASK_TEST_GATE": str(gate)}
    resumers = [
        subprocess.Popen(
            _cmd(tmp_path, "resume", RUN_ID),
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while all(p.poll() is None for p in resumers):
            assert time.monotonic() < deadline, "neither resumer finished"
            time.sleep(0.02)
        [loser] = [p for p in resumers if p.poll() is not None]
        loser_out, loser_err = loser.communicate()
        gate.unlink()
        [winner] = [p for p in resumers if p is not loser]
        win_out, win_err = winner.communicate(timeout=60)
    finally:
        for p in resumers:
            if p.poll() is None:
                p.kill()
                p.communicate()

    assert loser.returncode == 2, loser_err
    assert f"run {RUN_ID} is being driven by pid {winner.pid} on host" in loser_err
    assert "veritask resume ledger-run" in loser_err
    assert "lease expires in" in loser_err and loser_out == ""
    assert winner.returncode in (0, 1), win_err
    out = json.loads(win_out)
    statuses = {t["id"]: t["status"] for t in out["tasks"]}
    assert {n for n, s in statuses.items() if s == "unknown"} == HELD
    assert {n for n, s in statuses.items() if s == "succeeded"} == set(NAMES) - HELD

    # Each side effect happened once: finished ones were kept, held ones are `unknown`,
    # the rest ran in the one resumer that drove.
    assert calls_of(ledger) == Counter(NAMES)
    log = _log(tmp_path)
    assert [e.type for e in log].count(EventType.RUN_RESUMED) == 1
    _assert_one_consistent_log(log)


def test_resume_while_exec_is_alive_is_refused(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.txt"
    proc = _start_exec(tmp_path, ledger)
    try:
        wait_for_calls(ledger, set(NAMES[:10]) | HELD, proc)
        before = _log(tmp_path)
        refused = subprocess.run(
            _cmd(tmp_path, "resume", RUN_ID),
            cwd=tmp_path,
            env=veritask_env(ledger, block=False),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.poll() is None, "exec should still be running"
    finally:
        sigkill(proc)
    assert refused.returncode == 2, refused.stderr
    assert f"run {RUN_ID} is being driven by pid {proc.pid} on host" in refused.stderr
    assert "(veritask exec" in refused.stderr and "lease expires in" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _log(tmp_path) == before  # the refused resume wrote nothing
    assert calls_of(ledger) == Counter(NAMES[:10] + sorted(HELD))


def test_resume_after_sigkill_works_once_the_lease_expired(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.txt"
    _exec_then_sigkill(tmp_path, ledger)
    dead = _lease(tmp_path)
    assert dead is not None and "veritask exec" in dead.holder  # left behind by SIGKILL

    wait_lease_expired(tmp_path / "runs.db", RUN_ID)
    resumed = subprocess.run(
        _cmd(tmp_path, "resume", RUN_ID),
        cwd=tmp_path,
        env=veritask_env(ledger, block=False),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 1, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "failed"  # four required tasks are unknown
    assert calls_of(ledger) == Counter(NAMES)
    _assert_one_consistent_log(_log(tmp_path))
    assert _lease(tmp_path) is None  # released at the end
