"""Real `veritask` processes for crash, lease and reliability tests (and benchmarks).

One copy of what those tests share: the console script's path, the
environment that makes `helpers.crash_tools` importable and records every
tool call in a ledger file, waiting for tasks to start, SIGKILLing a driver,
waiting for its lease to expire, and the check that a run's log is one
consistent story. `benchmarks/reliability.py` uses the same functions at
full size.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from veritask.store import SQLiteRunStore, open_store
from veritask.types import Event, EventType

TESTS_DIR = Path(__file__).resolve().parents[1]
VERITASK = Path(sys.executable).parent / "veritask"
LEASE_TTL_S = 1.5
"""Short leases, so a resume after a SIGKILL waits little for the dead driver's lease."""

TERMINAL = (
    EventType.TASK_SUCCEEDED,
    EventType.TASK_FAILED,
    EventType.TASK_SKIPPED,
    EventType.TASK_UNKNOWN,
)


def veritask_env(
    calls: Path, *, block: bool = False, lease_ttl_s: float = LEASE_TTL_S, **extra: str
) -> dict[str, str]:
    """The environment of a child `veritask`: no stray VERITASK_* settings, the tests
    folder importable (`--import helpers.crash_tools`), every tool call appended to
    `calls`, short leases; `block` holds the `hold` tools until the process is killed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERITASK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")])
    env["VERITASK_TEST_CALLS"] = str(calls)
    env["VERITASK_LEASE_TTL_S"] = str(lease_ttl_s)
    if block:
        env["VERITASK_TEST_BLOCK"] = "1"
    env.update(extra)
    return env


def calls_of(path: Path) -> Counter[str]:
    """How often each task's tool really ran, from the ledger file."""
    return Counter(path.read_text().split()) if path.exists() else Counter()


def wait_for_calls(
    calls: Path, names: set[str], proc: subprocess.Popen[bytes], timeout_s: float = 30
) -> None:
    """Wait until every task in `names` has called its tool (the process must stay alive)."""
    deadline = time.monotonic() + timeout_s
    while not names <= set(calls_of(calls)):
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"the run ended early: {err}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"tasks {names} never started; calls: {calls_of(calls)}")
        time.sleep(0.02)


def sigkill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL `proc` and reap it (no cleanup code of its own runs)."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    if proc.stderr is not None:
        proc.stderr.close()


def wait_lease_expired(db: Path, run_id: str, timeout_s: float = 30) -> None:
    """Wait until the (killed) driver's lease on `run_id` has run out, as the store sees it."""
    store = SQLiteRunStore(db)
    try:
        deadline = time.monotonic() + timeout_s
        while (lease := store.lease(run_id)) is not None and lease.live(time.time()):
            assert time.monotonic() < deadline, f"the lease never expired: {lease}"
            time.sleep(min(0.1, max(0.01, lease.expires_at - time.time())))
    finally:
        store.close()


def run_log(store_at: Path | str, run_id: str) -> list[Event]:
    """The events of `run_id` in the store at `store_at`: a SQLite file or any store URL."""
    store = open_store(store_at)
    try:
        return store.events(run_id)
    finally:
        store.close()


def log_problems(log: list[Event], names: Iterable[str]) -> list[str]:
    """Why `log` is not one consistent, finished story of the tasks `names` (empty if it is).

    Gap-free seq; it ends with RunFinished, and after a RunFinished only a
    user's TaskSettled or a RunResumed may come; no task ever has two
    outcomes at once (a TaskSettled replaces an `unknown` one, or clears it
    and the tasks skipped because of it); every task ends with one outcome.
    """
    problems = []
    if [e.seq for e in log] != list(range(1, len(log) + 1)):
        problems.append("seq has gaps")
    if not log or log[-1].type is not EventType.RUN_FINISHED:
        problems.append("the log does not end with RunFinished")
    finished = False
    for e in log:
        if finished and e.type not in (EventType.TASK_SETTLED, EventType.RUN_RESUMED):
            problems.append(f"{e.type.value} (seq {e.seq}) after RunFinished")
        if e.type in (EventType.RUN_FINISHED, EventType.RUN_RESUMED):
            finished = e.type is EventType.RUN_FINISHED
    live, twice = _outcomes(log)
    if twice:
        problems.append(f"settled twice: {sorted(twice)}")
    never = sorted(n for n in names if not live.get(n))
    if never:
        problems.append(f"never settled: {never}")
    return problems


def _outcomes(log: list[Event]) -> tuple[dict[str, bool], set[str]]:
    """(task → has an outcome now, tasks that got a second outcome while holding one)."""
    live: dict[str, bool] = {}
    twice: set[str] = set()
    for e in log:
        if e.type in TERMINAL:
            tid = e.data["task_id"]
            if live.get(tid):
                twice.add(tid)
            live[tid] = True
        elif e.type is EventType.TASK_SETTLED:
            live[e.data["task_id"]] = bool(e.data.get("outcome"))
            for other in e.data.get("unskipped", []):
                live[str(other)] = False
    return live, twice


def assert_one_consistent_log(log: list[Event], names: Iterable[str]) -> None:
    problems = log_problems(log, names)
    assert not problems, problems


def ledger_plan(
    names: list[str], *, tool: str = "crash_ledger", held: Iterable[str] = ()
) -> dict[str, Any]:
    """A plan of independent side effects, one per name; `held` ones block while told to."""
    held = set(held)
    return {
        "goal": f"{len(names)} independent side effects",
        "tasks": [
            {"id": n, "tool": tool, "args": {"name": n, **({"hold": True} if n in held else {})}}
            for n in names
        ],
    }


def write_json(path: Path, payload: Any) -> Path:
    path.write_text(json.dumps(payload))
    return path


LEDGER_NAMES = [f"t{i:02d}" for i in range(30)]
LEDGER_PLAN = ledger_plan(LEDGER_NAMES, held=LEDGER_NAMES[10:])
"""30 independent non-idempotent side effects; t10..t29 block while told to."""
LEDGER_HELD = set(LEDGER_NAMES[10:14])
"""With concurrency 4, t00..t09 finish, then t10..t13 start and block until the kill."""
