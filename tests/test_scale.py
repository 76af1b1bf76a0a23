"""Scale-out with real processes: a PostgreSQL store, Redis, `veritask worker` subprocesses.

* a plan runs through `--backend celery` on a worker subprocess (values flow between
  tasks, a retryable failure is retried by the driver's policy);
* a worker process SIGKILLed mid-call: the idempotent task runs again once and
  succeeds, the non-idempotent one becomes `unknown` and its side effect happened once;
* a duplicate delivery of a finished attempt is dropped by its key;
* two `veritask resume` at once on PostgreSQL: exactly one drives.

Skipped, with the reason, when Redis or PostgreSQL is not reachable.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.processes import (
    LEASE_TTL_S,
    LEDGER_HELD,
    LEDGER_NAMES,
    LEDGER_PLAN,
    TESTS_DIR,
    VERITASK,
    assert_one_consistent_log,
    calls_of,
    veritask_env,
    wait_for_calls,
)
from helpers.services import REDIS_URL, fresh_pg_schema, postgres_reason, redis_reason
from veritask.store.postgres import PostgresRunStore
from veritask.types import EventType

NAMES, HELD, PLAN, RUN_ID = LEDGER_NAMES, LEDGER_HELD, LEDGER_PLAN, "ledger-run"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL"),
]

BROKER = REDIS_URL.rsplit("/", 1)[0] + "/7"
"""A Redis database of the tests' own, flushed before use."""


def _need(reason: str | None) -> None:
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_schema() as url:
        yield url


class Worker:
    """A `veritask worker` subprocess and the files its tools report through."""

    def __init__(self, tmp: Path) -> None:
        self.calls = tmp / "calls.txt"
        self.block = tmp / "block"
        self.env = {
            **veritask_env(self.calls, block=False),
            "VERITASK_TEST_BLOCK_FILE": str(self.block),
            "VERITASK_BROKER_URL": BROKER,
        }
        self.proc = subprocess.Popen(
            [str(VERITASK), "worker", "--concurrency", "3", "--import", "helpers.celery_tools"],
            cwd=TESTS_DIR,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self) -> None:
        from veritask.runtime.backends.celery import make_app

        app = make_app(BROKER)
        deadline = time.monotonic() + 30
        while not app.control.ping(timeout=0.3):
            if self.proc.poll() is not None:
                raise AssertionError(f"worker died: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the worker never answered a ping"

    def pids(self, name: str) -> list[int]:
        if not self.calls.exists():
            return []
        return [
            int(p)
            for n, p in (ln.split() for ln in self.calls.read_text().splitlines())
            if n == name
        ]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """One worker subprocess for the module (start-up costs seconds), on a flushed Redis db."""
    _need(redis_reason())
    _need(postgres_reason())
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    w = Worker(tmp_path_factory.mktemp("worker"))
    try:
        w.wait_ready()
        yield w
    finally:
        w.stop()


def _exec(
    tmp_path: Path, w: Worker, store: str, plan: dict[str, object], run_id: str
) -> subprocess.Popen[str]:
    plan_file = tmp_path / f"{run_id}.json"
    plan_file.write_text(json.dumps(plan))
    return subprocess.Popen(
        [
            str(VERITASK),
            "exec",
            str(plan_file),
            "--backend",
            "celery",
            "--store",
            store,
            "--import",
            "helpers.celery_tools",
            "--run-id",
            run_id,
            "--json",
        ],
        cwd=TESTS_DIR,
        env=w.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_plan_runs_on_a_worker_subprocess(tmp_path: Path, worker: Worker, pg_url: str) -> None:
    plan = {
        "goal": "remote",
        "tasks": [
            {"id": "sum", "tool": "calc", "args": {"expression": "2 + 3"}},
            {"id": "echo", "tool": "cel_echo", "args": {"name": "p-echo", "value": "$sum"}},
            {"id": "flaky", "tool": "cel_flaky", "args": {"name": "p-flaky", "value": "$echo"}},
            {"id": "total", "tool": "calc", "args": {"expression": "$flaky * 10"}},
        ],
    }
    proc = _exec(tmp_path, worker, pg_url, plan, "remote-1")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert {t["id"]: t["status"] for t in result["tasks"]} == dict.fromkeys(
        ("sum", "echo", "flaky", "total"), "succeeded"
    )
    assert result["value"] == 50
    calls = calls_of(worker.calls)
    assert calls["p-echo"] == 1 and calls["p-flaky"] == 2  # the retry ran on the worker
    store = PostgresRunStore(pg_url)
    types = [e.type for e in store.events("remote-1")]
    store.close()
    assert types.count(EventType.TASK_RETRYING) == 1 and types[-1] is EventType.RUN_FINISHED


def test_sigkilled_worker_process_mid_call(tmp_path: Path, worker: Worker, pg_url: str) -> None:
    """Idempotent: redelivered and run again once. Not idempotent: `unknown`, ran once."""
    plan = {
        "goal": "survive a dead worker",
        "tasks": [
            {"id": "idem", "tool": "cel_hold_idempotent", "args": {"name": "k-idem", "value": 1}},
            {
                "id": "once",
                "tool": "cel_hold_once",
                "args": {"name": "k-once", "value": 2},
                "policy": {"optional": True},
            },
            {"id": "after", "tool": "cel_echo", "args": {"name": "k-after", "value": "$idem"}},
        ],
    }
    worker.block.touch()
    proc = _exec(tmp_path, worker, pg_url, plan, "killed-1")
    try:
        deadline = time.monotonic() + 30
        while not (worker.pids("k-idem") and worker.pids("k-once")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, (
                f"held tools never started: {calls_of(worker.calls)}"
            )
            time.sleep(0.02)
        for pid in {*worker.pids("k-idem"), *worker.pids("k-once")}:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
    finally:
        worker.block.unlink(missing_ok=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 1), err
    statuses = {t["id"]: t["status"] for t in json.loads(out)["tasks"]}
    assert statuses == {"idem": "succeeded", "once": "unknown", "after": "succeeded"}
    assert len(worker.pids("k-idem")) == 2  # killed once, delivered again, finished
    assert len(worker.pids("k-once")) == 1  # at most once: the side effect happened once
    store = PostgresRunStore(pg_url)
    log = store.events("killed-1")
    store.close()
    [unknown] = [e for e in log if e.type is EventType.TASK_UNKNOWN]
    assert unknown.data["task_id"] == "once"
    assert "not idempotent" in json.dumps(unknown.data)


def test_a_duplicate_delivery_of_a_finished_attempt_is_dropped(worker: Worker) -> None:
    """Same key twice: the tool runs once, both deliveries get the first outcome; a
    non-idempotent attempt already started elsewhere is refused as `unknown`."""
    from veritask.runtime.backends.celery import _Ledger, run_attempt
    from veritask.tools import ToolRegistry

    runs: list[int] = []
    reg = ToolRegistry()

    @reg.tool(idempotent=True)
    def counted(value: int) -> int:
        runs.append(value)
        return value * 2

    @reg.tool
    def pay(value: int) -> int:
        runs.append(value)
        return value

    ledger = _Ledger(BROKER)
    first = run_attempt(ledger, reg, "dup:t1:1", "counted", {"value": 4}, idempotent=True)
    again = run_attempt(ledger, reg, "dup:t1:1", "counted", {"value": 4}, idempotent=True)
    assert first == again == {"ok": 8} and runs == [4]

    assert ledger.start("dup:t2:1", exclusive=True)  # another delivery is running it
    refused = run_attempt(ledger, reg, "dup:t2:1", "pay", {"value": 1}, idempotent=False)
    assert "unknown" in refused and runs == [4]


def test_two_resumes_at_once_on_postgres_exactly_one_drives(tmp_path: Path, pg_url: str) -> None:
    """The lease on PostgreSQL: after a SIGKILLed exec, one resumer drives, one is refused,
    every side effect happened once, the log has one RunResumed and one RunFinished."""
    _need(postgres_reason())
    ledger = tmp_path / "ledger.txt"
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(PLAN))

    def cmd(*args: str) -> list[str]:
        return [
            str(VERITASK),
            *args,
            "--store",
            pg_url,
            "--import",
            "helpers.crash_tools",
            "--json",
        ]

    proc = subprocess.Popen(
        cmd("exec", str(plan_file), "--run-id", RUN_ID, "--concurrency", "4"),
        cwd=tmp_path,
        env=veritask_env(ledger, block=True),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_calls(ledger, set(NAMES[:10]) | HELD, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()

    store = PostgresRunStore(pg_url)
    deadline = time.monotonic() + 10 * LEASE_TTL_S
    while (lease := store.lease(RUN_ID)) is not None and lease.live(time.time()):
        assert time.monotonic() < deadline, f"the lease never expired: {lease}"
        time.sleep(0.05)

    gate = tmp_path / "gate"
    gate.touch()
    env = {**veritask_env(ledger, block=False), "VERITASK_TEST_GATE": str(gate)}
    resumers = [
        subprocess.Popen(
            cmd("resume", RUN_ID),
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
    assert f"run {RUN_ID} is being driven by pid {winner.pid}" in loser_err and loser_out == ""
    assert winner.returncode in (0, 1), win_err
    statuses = {t["id"]: t["status"] for t in json.loads(win_out)["tasks"]}
    assert {n for n, s in statuses.items() if s == "unknown"} == HELD
    assert calls_of(ledger) == Counter(NAMES)
    log = store.events(RUN_ID)
    store.close()
    assert [e.type for e in log].count(EventType.RUN_RESUMED) == 1
    assert_one_consistent_log(log, NAMES)


# -- without services ----------------------------------------------------------------


def test_visibility_timeout_outlasts_the_longest_call() -> None:
    from veritask.runtime.backends.celery import (
        TIME_LIMIT_GRACE_S,
        VISIBILITY_MARGIN_S,
        visibility_timeout,
    )

    margin = TIME_LIMIT_GRACE_S + VISIBILITY_MARGIN_S
    assert visibility_timeout([5.0, None, 120.0]) == 120.0 + margin
    assert visibility_timeout([]) == 60.0 + margin  # the default policy's timeout


def test_make_backend_celery_reads_the_broker_from_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("celery")
    from veritask.runtime.backends import make_backend
    from veritask.runtime.backends.celery import CeleryBackend

    monkeypatch.setenv("VERITASK_BROKER_URL", "redis://127.0.0.1:1/3")
    backend = make_backend("celery")
    assert isinstance(backend, CeleryBackend)
    assert backend.app.conf.broker_url == "redis://127.0.0.1:1/3"
    assert backend.app.conf.worker_prefetch_multiplier == 1


def test_postgres_url_schema_parameter() -> None:
    from veritask.errors import ConfigError
    from veritask.store.postgres import split_url

    assert split_url("postgres://u@h:5/db?schema=s1&sslmode=disable") == (
        "postgresql://u@h:5/db?sslmode=disable",
        "s1",
    )
    assert split_url("postgresql://h/db") == ("postgresql://h/db", None)
    with pytest.raises(ConfigError, match="schema name"):
        split_url("postgresql://h/db?schema=a;drop")


async def test_an_outcome_a_backend_cannot_know_is_recorded_unknown(tmp_path: Path) -> None:
    """A remote call whose worker died (kind OutcomeUnknown) is `unknown`, not retried."""
    from veritask import Plan, Task
    from veritask.errors import ToolError
    from veritask.runtime.backends.base import OUTCOME_UNKNOWN, current_run_id
    from veritask.runtime.executor import Runtime
    from veritask.tools import ToolRegistry
    from veritask.types import OutcomeStatus, RunStatus

    seen: list[str | None] = []

    class LostWorker:
        async def call(self, spec: object, args: object, *, task_id: str, timeout_s: object) -> int:
            seen.append(current_run_id.get())
            raise ToolError("the worker died", kind=OUTCOME_UNKNOWN)

        async def aclose(self) -> None:
            return None

    reg = ToolRegistry()

    @reg.tool(retries=3)
    def pay(amount: int) -> int:
        return amount

    rt = Runtime(f"sqlite:///{tmp_path}/runs.db", registry=reg, backend=LostWorker())
    result = await rt.aexecute(
        Plan(goal="pay", tasks=[Task(id="p", tool="pay", args={"amount": 1})]), run_id="lost"
    )
    assert result.status is RunStatus.FAILED
    outcome = result.outcomes["p"]
    assert outcome.status is OutcomeStatus.UNKNOWN
    assert seen == ["lost"]  # one attempt, and the backend knew the run
