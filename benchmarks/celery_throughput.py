"""Scale-out throughput: veritask on Celery vs a plain Celery `group`, and log writes.

What is measured
----------------
1. **Celery throughput.** N tasks (default 1,000), each sleeping 50 ms, with
   one worker of 1, 2 and 4 prefork processes:

   * veritask: a plan of N independent `bench_sleep` tasks run by
     `Runtime(backend=CeleryBackend(...))` on a `veritask worker`, the run
     logged in PostgreSQL (or SQLite with `--store`), driver concurrency
     2 × processes so the queue never runs dry;
   * plain Celery: `group(sleep.s() for _ in range(N)).apply_async().get()` on a
     `celery worker` with the same settings (json, prefetch 1, prefork).

   The ratio veritask / plain is the price of the idempotency key, the
   attempt ledger, the driver's event log and its polling for results.
   The ideal is N × 50 ms / processes.

2. **Event-log writes.** Appends of one event (one transaction each) and of
   batches of 50, to SQLite (WAL, a file under /tmp) and PostgreSQL.

Run: `python benchmarks/celery_throughput.py [--tasks 1000] [--workers 1 2 4]`
with Redis and PostgreSQL up (`VERITASK_BROKER_URL`, `--pg URL`). Writes
`docs/benchmarks/scale.json`; `docs/benchmarks/scale.md` discusses a run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from celery import Celery, group

from veritask import tool

HERE = Path(__file__).resolve().parent
BROKER = os.environ.get("VERITASK_BROKER_URL", "redis://127.0.0.1:6379/8")
SLEEP_S = 0.05


@tool(name="bench_sleep", idempotent=True)
def bench_sleep(i: int) -> int:
    """Sleep 50 ms and return `i`."""
    time.sleep(SLEEP_S)
    return i


plain_app = Celery("plain", broker=BROKER, backend=BROKER)
plain_app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=1,
    task_default_queue="plain",
    broker_connection_retry_on_startup=True,
)


@plain_app.task(name="plain.sleep")
def plain_sleep(i: int) -> int:
    time.sleep(SLEEP_S)
    return i


def _start(cmd: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VERITASK_BROKER_URL": BROKER, "PYTHONPATH": str(HERE)}
    return subprocess.Popen(cmd, cwd=HERE, env=env, stdout=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_ready(app: Any) -> None:
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if time.monotonic() > deadline:
            raise SystemExit("worker did not start")


def run_veritask(n: int, procs: int, store: str) -> float:
    from veritask import Plan, Task
    from veritask.runtime.backends.celery import CeleryBackend, make_app
    from veritask.runtime.executor import Runtime
    from veritask.tools import ToolRegistry, default_registry

    bin_dir = Path(sys.executable).parent
    worker = _start(
        [
            str(bin_dir / "veritask"),
            "worker",
            f"--concurrency={procs}",
            "--import=celery_throughput",
            f"--broker={BROKER}",
        ]
    )
    try:
        app = make_app(BROKER)
        _wait_ready(app)
        reg = ToolRegistry()
        reg.add(default_registry().get("bench_sleep"))
        plan = Plan(
            goal="throughput",
            tasks=[Task(id=f"t{i}", tool="bench_sleep", args={"i": i}) for i in range(n)],
        )
        rt = Runtime(store, registry=reg, backend=CeleryBackend(app=app), concurrency=2 * procs)
        start = time.perf_counter()
        result = rt.execute(plan, run_id=f"bench-{secrets.token_hex(4)}")
        elapsed = time.perf_counter() - start
        assert result.status.value == "succeeded", result.status
        return elapsed
    finally:
        _stop(worker)


def run_plain(n: int, procs: int) -> float:
    worker = _start(
        [
            *(sys.executable, "-m", "celery", "-A", "celery_throughput:plain_app", "worker"),
            *(f"--concurrency={procs}", "--pool=prefork", "-Q", "plain", "--loglevel=warning"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ]
    )
    try:
        _wait_ready(plain_app)
        start = time.perf_counter()
        values = group(plain_sleep.s(i) for i in range(n)).apply_async().get(timeout=600)
        elapsed = time.perf_counter() - start
        assert sorted(values) == list(range(n))
        return elapsed
    finally:
        _stop(worker)


def log_writes(url: str, singles: int, batches: int) -> dict[str, float]:
    from veritask.store import NewEvent, open_store
    from veritask.types import EventType

    store = open_store(url)
    run = f"w-{secrets.token_hex(4)}"
    store.append(run, [NewEvent(EventType.RUN_STARTED, {"goal": "w"})])
    data = {"task_id": "t", "attempt": 1}
    start = time.perf_counter()
    for _ in range(singles):
        store.append(run, [NewEvent(EventType.TASK_STARTED, data)])
    single = singles / (time.perf_counter() - start)
    batch = [NewEvent(EventType.TASK_STARTED, data)] * 50
    start = time.perf_counter()
    for _ in range(batches):
        store.append(run, batch)
    batched = batches * 50 / (time.perf_counter() - start)
    store.close()
    return {"single_events_per_s": round(single), "batch50_events_per_s": round(batched)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--store", default=None, help="run store of the veritask runs")
    parser.add_argument("--out", default=str(HERE.parent / "docs/benchmarks/scale.json"))
    parser.add_argument("--skip-celery", action="store_true")
    args = parser.parse_args()
    schema = f"bench_{secrets.token_hex(4)}"
    pg = f"{args.pg}?schema={schema}"
    report: dict[str, Any] = {"tasks": args.tasks, "sleep_s": SLEEP_S, "celery": [], "log": {}}
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    if not args.skip_celery:
        for procs in args.workers:
            vt = run_veritask(args.tasks, procs, args.store or pg)
            plain = run_plain(args.tasks, procs)
            ideal = args.tasks * SLEEP_S / procs
            row = {
                "processes": procs,
                "veritask_s": round(vt, 2),
                "plain_celery_s": round(plain, 2),
                "ideal_s": round(ideal, 2),
                "ratio": round(vt / plain, 2),
            }
            print(json.dumps(row), flush=True)
            report["celery"].append(row)
    with tempfile.TemporaryDirectory() as tmp:
        for name, url in (("sqlite", f"sqlite:///{tmp}/runs.db"), ("postgres", pg)):
            report["log"][name] = log_writes(url, 2000, 200)
            print(name, json.dumps(report["log"][name]), flush=True)
    import psycopg

    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
