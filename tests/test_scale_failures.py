"""Scale-out failures with real processes (issue 15, item 4).

* the driver (`veritask exec --backend celery`, PostgreSQL store) SIGKILLed while
  workers run its tasks, then `veritask resume --backend celery` from another process
  once the lease has expired: completed tasks are kept, no non-idempotent task runs
  twice, the idempotent attempt a worker finished meanwhile comes from the ledger;
* Redis (broker, result backend, ledger) restarted mid-run.

Redis is restarted in a `finally` whatever happens; the broker uses its own database.
Skipped, with the reason, when Redis or PostgreSQL is not reachable.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.processes import LEASE_TTL_S, TESTS_DIR, VERITASK, calls_of, run_log
from helpers.services import REDIS_URL, fresh_pg_schema, postgres_reason, redis_reason
from test_scale import BROKER, Worker, _exec, _need
from veritask.runtime.backends.celery import LEDGER_PREFIX, attempt_key
from veritask.store.postgres import PostgresRunStore
from veritask.types import Event, EventType

pytestmark = [pytest.mark.integration]

REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]
"""How the shared Redis server is (re)started on this machine."""

TERMINAL = (
    EventType.TASK_SUCCEEDED,
    EventType.TASK_FAILED,
    EventType.TASK_SKIPPED,
    EventType.TASK_UNKNOWN,
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_schema() as url:
        yield url


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """This module's own worker subprocess, on a flushed Redis db."""
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


def _settled(log: list[Event]) -> dict[str, EventType]:
    return {e.data["task_id"]: e.type for e in log if e.type in TERMINAL}


def _wait(
    what: str, done: Any, proc: subprocess.Popen[str] | None = None, limit: float = 30
) -> None:
    deadline = time.monotonic() + limit
    while not done():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the driver ended before {what}: {proc.communicate()}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _resume(w: Worker, store: str, run_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(VERITASK),
            "resume",
            run_id,
            "--backend",
            "celery",
            "--store",
            store,
            "--import",
            "helpers.celery_tools",
            "--json",
        ],
        cwd=TESTS_DIR,
        env=w.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _ledger(run_id: str, task_id: str) -> bytes | None:
    import redis

    raw: bytes | None = redis.Redis.from_url(BROKER).get(
        LEDGER_PREFIX + attempt_key(run_id, task_id, 1)
    )
    return raw


PLAN_KILL = {
    "goal": "survive a dead driver",
    "tasks": [
        {"id": "paid", "tool": "cel_once", "args": {"name": "d-paid", "value": 1}},
        {"id": "echo", "tool": "cel_echo", "args": {"name": "d-echo", "value": 2}},
        {
            "id": "once",
            "tool": "cel_hold_once",
            "args": {"name": "d-once", "value": "$paid"},
            "policy": {"optional": True},
        },
        {"id": "idem", "tool": "cel_hold_idempotent", "args": {"name": "d-idem", "value": "$echo"}},
        {"id": "after", "tool": "cel_once", "args": {"name": "d-after", "value": "$idem"}},
        {"id": "total", "tool": "calc", "args": {"expression": "$paid + $echo + $after"}},
    ],
}


def test_sigkilled_driver_then_resume_from_another_process(
    tmp_path: Path, worker: Worker, pg_url: str
) -> None:
    """`paid`/`echo` finished before the kill and are kept; `once` (not idempotent) and
    `idem` were running on workers: `once` is `unknown` and its effect happened once, `idem`
    finished on its worker while no driver lived and resume takes its outcome from the
    ledger instead of calling it again; `after` and `total` run once, under the new driver."""
    run_id = "driver-killed-1"
    worker.block.touch()
    proc = _exec(tmp_path, worker, pg_url, PLAN_KILL, run_id)
    try:
        _wait(
            "held calls on the workers",
            lambda: worker.pids("d-once") and worker.pids("d-idem"),
            proc,
        )
        _wait(
            "paid and echo recorded",
            lambda: {"paid", "echo"} <= set(_settled(run_log(pg_url, run_id))),
            proc,
        )
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    before = run_log(pg_url, run_id)
    assert _settled(before) == {"paid": EventType.TASK_SUCCEEDED, "echo": EventType.TASK_SUCCEEDED}

    # The workers outlive the driver: let the held calls finish with nobody listening.
    worker.block.unlink()
    _wait(
        "idem's attempt finished on its worker",
        lambda: (_ledger(run_id, "idem") or b"").startswith(b"done:"),
    )

    store = PostgresRunStore(pg_url)
    try:
        deadline = time.monotonic() + 10 * LEASE_TTL_S
        while (lease := store.lease(run_id)) is not None and lease.live(time.time()):
            assert time.monotonic() < deadline, f"the lease never expired: {lease}"
            time.sleep(0.05)
    finally:
        store.close()

    done = _resume(worker, pg_url, run_id)
    assert done.returncode in (0, 1), done.stderr
    result = json.loads(done.stdout)
    statuses = {t["id"]: t["status"] for t in result["tasks"]}
    assert statuses == {
        "paid": "succeeded",
        "echo": "succeeded",
        "once": "unknown",
        "idem": "succeeded",
        "after": "succeeded",
        "total": "succeeded",
    }
    assert result["value"] == 1 + 2 + 2
    calls = calls_of(worker.calls)
    assert {n: calls[n] for n in calls if n.startswith("d-")} == dict.fromkeys(
        ("d-paid", "d-echo", "d-once", "d-idem", "d-after"), 1
    )  # nothing ran twice: not even the idempotent call

    log = run_log(pg_url, run_id)
    assert log[: len(before)] == before  # the dead driver's events are kept as they were
    types = [e.type for e in log]
    assert types.count(EventType.RUN_RESUMED) == 1 and types.count(EventType.RUN_FINISHED) == 1
    assert types[-1] is EventType.RUN_FINISHED
    terminal = [e.data["task_id"] for e in log if e.type in TERMINAL]
    assert sorted(terminal) == sorted(statuses)  # each task settled exactly once
    [unknown] = [e for e in log if e.type is EventType.TASK_UNKNOWN]
    assert unknown.data["task_id"] == "once" and "not idempotent" in json.dumps(unknown.data)


# -- Redis restarted mid-run ----------------------------------------------------------


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _start_redis() -> None:
    if _redis_up():
        return
    subprocess.run(REDIS_START, check=True, timeout=30, capture_output=True)
    deadline = time.monotonic() + 30
    while not _redis_up():
        assert time.monotonic() < deadline, "Redis did not come back"
        time.sleep(0.05)


PLAN_REDIS = {
    "goal": "survive a broker restart",
    "tasks": [
        {"id": "paid", "tool": "cel_once", "args": {"name": "r-paid", "value": 1}},
        {
            "id": "once",
            "tool": "cel_hold_once",
            "args": {"name": "r-once", "value": "$paid"},
            "policy": {"optional": True},
        },
        {"id": "idem", "tool": "cel_hold_idempotent", "args": {"name": "r-idem", "value": "$paid"}},
        {"id": "after", "tool": "cel_once", "args": {"name": "r-after", "value": "$idem"}},
    ],
}


def test_redis_restarted_mid_run(tmp_path: Path, worker: Worker, pg_url: str) -> None:
    """Redis (broker, results, ledger; no persistence) shut down while `once` (not
    idempotent) and `idem` run on the worker, and started again as soon as the driver has
    noticed (a fraction of a second; at most 10 s). Runs last: it leaves the module's
    worker dead when celery/kombu does (see below).

    The driver keeps `paid`, turns `once` `unknown` at the first lost contact (its result
    could be lost with Redis; its effect happened once), waits through the outage for
    `idem` (its result arrives once Redis is back) and runs `after`; nothing ran twice.
    The Celery worker itself does not survive the outage (celery/kombu 5.7: "Unrecoverable
    error: AttributeError ... 'hostname'" while restoring its unacknowledged message; it
    finishes its running calls and exits 0), so the test restarts it, as a supervisor would.
    """
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("needs redis-server and redis-cli to restart Redis")
    run_id = "broker-restart-1"
    worker.block.touch()
    # A lease that survives a busy machine: this test is about Redis, not the lease.
    worker.env["VERITASK_LEASE_TTL_S"] = "10"
    proc = _exec(tmp_path, worker, pg_url, PLAN_REDIS, run_id)
    worker.env["VERITASK_LEASE_TTL_S"] = str(LEASE_TTL_S)
    replacement: Worker | None = None
    try:
        try:
            _wait(
                "held calls on the worker",
                lambda: worker.pids("r-once") and worker.pids("r-idem"),
                proc,
            )
            before = run_log(pg_url, run_id)
            assert _settled(before) == {"paid": EventType.TASK_SUCCEEDED}
            subprocess.run(
                ["redis-cli", "-p", "6379", "shutdown", "nosave"], timeout=10, capture_output=True
            )
            _wait(
                "the driver to notice",
                lambda: "once" in _settled(run_log(pg_url, run_id)),
                limit=10,
            )
        finally:
            _start_redis()  # keep the outage short: other tests and people use this server
        worker.block.unlink()
        _wait("the held calls to finish", lambda: _ledger(run_id, "idem") is not None)
        try:
            worker.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass  # a worker that reconnected by itself is just as good
        else:
            replacement = Worker(worker.calls.parent)  # the supervisor's restart
        out, err = proc.communicate(timeout=120)
    finally:
        worker.block.unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if replacement is not None:
            replacement.stop()
        _start_redis()
    assert proc.returncode in (0, 1), err
    statuses = {t["id"]: t["status"] for t in json.loads(out)["tasks"]}
    assert statuses == {
        "paid": "succeeded",
        "once": "unknown",
        "idem": "succeeded",
        "after": "succeeded",
    }
    calls = calls_of(worker.calls)
    assert {n: calls[n] for n in calls if n.startswith("r-")} == dict.fromkeys(
        ("r-paid", "r-once", "r-idem", "r-after"), 1
    )
    log = run_log(pg_url, run_id)
    assert log[: len(before)] == before
    types = [e.type for e in log]
    assert types.count(EventType.RUN_FINISHED) == 1 and types[-1] is EventType.RUN_FINISHED
    terminal = [e.data["task_id"] for e in log if e.type in TERMINAL]
    assert sorted(terminal) == sorted(statuses)
    [unknown] = [e for e in log if e.type is EventType.TASK_UNKNOWN]
    assert unknown.data["task_id"] == "once"
    assert "lost contact with the broker" in json.dumps(unknown.data)


# -- without services ----------------------------------------------------------------


class _Flaky:
    """An AsyncResult whose Redis is down for the first `down` polls."""

    id = "run:t:1"

    def __init__(self, down: int) -> None:
        self.down = down

    @property
    def state(self) -> str:
        import redis

        if self.down > 0:
            self.down -= 1
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")
        return "SUCCESS"


def _spec(idempotent: bool) -> Any:
    from veritask.tools import ToolRegistry

    reg = ToolRegistry()

    @reg.tool(idempotent=idempotent)
    def t(value: int) -> int:
        return value

    return reg.get("t")


async def test_waiting_through_a_redis_outage_only_when_idempotent() -> None:
    pytest.importorskip("celery")
    from veritask.errors import ToolError
    from veritask.runtime.backends.base import OUTCOME_UNKNOWN
    from veritask.runtime.backends.celery import CeleryBackend

    result = _Flaky(down=2)
    await CeleryBackend._ready(result, _spec(idempotent=True))
    assert result.down == 0  # waited the outage out

    with pytest.raises(ToolError, match="lost contact with the broker") as info:
        await CeleryBackend._ready(_Flaky(down=1), _spec(idempotent=False))
    assert info.value.kind == OUTCOME_UNKNOWN and not info.value.retryable
