"""Reliability trials with real `veritask` processes, shared by `tests/reliability/`
(a few trials each, fast) and `benchmarks/reliability.py` (full size, counted).

Each trial does what a user would do and reports what happened as numbers,
so a test asserts on them and the benchmark adds them up:

* `kill_trial` — `veritask exec` of a 30-task side-effect plan, SIGKILLed at
  a random moment, then `resume`; a task left `unknown` is settled the way a
  user would (look at the ledger: it ran → `--done`, it did not →
  `--not-done`) and resumed again.
* `two_resumers_trial` — the same plan killed mid-run, then two `resume`s at
  once.
* `writers_trial` — N processes each writing runs into one SQLite store.
* `store_fault_trial` — a corrupt or read-only store.
* `measured` — any command, with its wall time and peak memory.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.processes import (
    VERITASK,
    calls_of,
    ledger_plan,
    log_problems,
    run_log,
    sigkill,
    veritask_env,
    wait_for_calls,
    wait_lease_expired,
    write_json,
)
from veritask.runtime.executor import Runtime
from veritask.types import Event, EventType, RunStatus

TASK_PAUSE_S = 0.05
"""Each side effect takes this long after it happened, so kills land mid-call."""


@dataclass
class Measured:
    """A finished command: exit code, output, wall seconds and peak memory (MB)."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float


def measured(
    cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout_s: float = 300
) -> Measured:
    """Run `cmd` to the end and measure it.

    Peak RSS comes from GNU time when it is installed: a child forked from
    this (possibly large) process counts the parent's pages until it execs,
    while one forked by `time` does not. Without it, the kernel's rusage of
    our own child is used, an upper bound.
    """
    gnu_time = shutil.which("time") if Path("/usr/bin/time").exists() else None
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = Path(tmp) / "rss"
        full = [gnu_time, "-f", "%M", "-o", str(rss_file), *cmd] if gnu_time else cmd
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        started = time.monotonic()
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen(full, cwd=cwd, env=env, stdout=o, stderr=e)
            while True:  # wait4, not wait: it also returns the child's rusage
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() - started > timeout_s:
                    proc.kill()
                time.sleep(0.01)
            proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        rss_kb = usage.ru_maxrss
        if gnu_time and rss_file.exists():
            lines = rss_file.read_text().split()
            rss_kb = int(lines[-1]) if lines and lines[-1].isdigit() else rss_kb
        return Measured(
            proc.returncode,
            out.read_text(errors="replace"),
            err.read_text(errors="replace"),
            seconds,
            rss_kb / 1024,
        )


def _cli(workdir: Path, *args: str) -> list[str]:
    store = f"sqlite:///{workdir / 'runs.db'}"
    return [str(VERITASK), *args, "--store", store, "--import", "helpers.crash_tools"]


@dataclass
class KillTrial:
    """What one SIGKILL of `exec` and the user's recovery came to."""

    idempotent: bool
    succeeded_at_kill: int = 0
    lost: int = 0
    """Tasks that had succeeded at the kill whose result was lost or that ran again."""
    duplicated: int = 0
    """Side effects of non-idempotent tasks that happened more than once."""
    reran: int = 0
    """Idempotent tasks run again because the kill interrupted them (allowed)."""
    settled: int = 0
    """Tasks left `unknown` that the user settled from the ledger."""
    resumed: bool = False
    """The run ended `succeeded` with one consistent log."""
    finished_before_kill: bool = False
    problems: list[str] = field(default_factory=list)


def kill_trial(
    workdir: Path, rng: random.Random, *, idempotent: bool, tasks: int = 30
) -> KillTrial:
    """SIGKILL `veritask exec` of a `tasks`-task ledger plan at a random moment, then recover.

    The moment is drawn between the first side effect and 80 % of the time the
    calls take at concurrency 4, so the kill lands while tasks are running.
    """
    names = [f"t{i:02d}" for i in range(tasks)]
    tool = "crash_ledger_idempotent" if idempotent else "crash_ledger"
    plan = write_json(workdir / "plan.json", ledger_plan(names, tool=tool))
    ledger, run_id = workdir / "ledger.txt", "kill-run"
    env = veritask_env(ledger, VERITASK_TEST_SLEEP_S=str(TASK_PAUSE_S))
    trial = KillTrial(idempotent)
    proc = subprocess.Popen(
        [*_cli(workdir, "exec", str(plan), "--run-id", run_id, "--concurrency", "4"), "--json"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_calls(ledger, {names[0]}, proc)  # the run exists: its first task has run
        time.sleep(rng.uniform(0, 0.8 * tasks * TASK_PAUSE_S / 4))
    finally:
        trial.finished_before_kill = proc.poll() is not None
        sigkill(proc)
    at_kill = calls_of(ledger)
    before = _succeeded(run_log(workdir / "runs.db", run_id))
    trial.succeeded_at_kill = len(before)
    wait_lease_expired(workdir / "runs.db", run_id)
    _recover(workdir, run_id, ledger, env, trial)
    log = run_log(workdir / "runs.db", run_id)
    after, calls = _succeeded(log), calls_of(ledger)
    trial.lost = sum(1 for t, v in before.items() if after.get(t) != v or calls[t] > at_kill[t])
    extra = sum(n - 1 for n in calls.values() if n > 1)
    trial.reran, trial.duplicated = (extra, 0) if idempotent else (0, extra)
    trial.problems += log_problems(log, names)
    finished = [e for e in log if e.type is EventType.RUN_FINISHED]
    trial.resumed = (
        not trial.problems
        and bool(finished)
        and finished[-1].data.get("status") == RunStatus.SUCCEEDED.value
    )
    return trial


def _succeeded(log: list[Event]) -> dict[str, Any]:
    return {
        e.data["task_id"]: e.data["outcome"].get("value")
        for e in log
        if e.type is EventType.TASK_SUCCEEDED
    }


def _recover(
    workdir: Path, run_id: str, ledger: Path, env: dict[str, str], trial: KillTrial
) -> None:
    """`resume`; settle what is `unknown` from the ledger, as a user would; `resume` again."""
    for _ in range(3):
        done = subprocess.run(
            [*_cli(workdir, "resume", run_id), "--json"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode not in (0, 1) or "Traceback" in done.stderr:
            trial.problems.append(f"resume exit {done.returncode}: {done.stderr[-300:]}")
            return
        unknown = [t["id"] for t in json.loads(done.stdout)["tasks"] if t["status"] == "unknown"]
        if not unknown:
            return
        happened = calls_of(ledger)
        runtime = Runtime(store=f"sqlite:///{workdir / 'runs.db'}")
        try:
            for tid in unknown:  # what `veritask settle` does, without a process each
                runtime.settle(run_id, tid, done=bool(happened[tid]), value=tid)
                trial.settled += 1
        except Exception as exc:
            trial.problems.append(f"settle: {exc}")
            return
        finally:
            runtime.store.close()
    trial.problems.append("still unknown tasks after 3 resumes")


@dataclass
class ResumersTrial:
    """Two `resume`s started together on a killed run."""

    drove: int = 0
    refused: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)


def two_resumers_trial(workdir: Path, *, tasks: int = 30, held: int = 4) -> ResumersTrial:
    """Kill `exec` while `held` non-idempotent tasks are mid-call, then start two
    `resume`s at once: one must drive, the other be refused, no effect twice."""
    names = [f"t{i:02d}" for i in range(tasks)]
    holding = names[tasks // 3 :]
    plan = write_json(workdir / "plan.json", ledger_plan(names, held=holding))
    ledger, run_id = workdir / "ledger.txt", "two-resumers"
    proc = subprocess.Popen(
        [*_cli(workdir, "exec", str(plan), "--run-id", run_id, "--concurrency", str(held))],
        cwd=workdir,
        env=veritask_env(ledger, block=True),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_calls(ledger, set(names[: tasks // 3 + held]), proc)
    finally:
        sigkill(proc)
    wait_lease_expired(workdir / "runs.db", run_id)
    # The gate keeps a driver calling (and its lease held) until the other has ended:
    # without it, one resume could finish before the other even starts.
    gate = workdir / "gate"
    gate.touch()
    env = veritask_env(ledger, VERITASK_TEST_GATE=str(gate))
    both = [
        subprocess.Popen(
            [*_cli(workdir, "resume", run_id), "--json"],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    trial = ResumersTrial()
    deadline = time.monotonic() + 30  # both still running then: both are driving
    while all(p.poll() is None for p in both) and time.monotonic() < deadline:
        time.sleep(0.02)
    gate.unlink()
    for p in both:
        _, err = p.communicate(timeout=120)
        if "is being driven by" in err:
            trial.refused += 1
        elif p.returncode in (0, 1):
            trial.drove += 1
        else:
            trial.problems.append(f"resume exit {p.returncode}: {err[-300:]}")
    trial.duplicated = sum(n - 1 for n in calls_of(ledger).values() if n > 1)
    trial.problems += log_problems(run_log(workdir / "runs.db", run_id), names)
    return trial


WRITER = """
import sys
from veritask import Orchestrator, Plan
store, prefix, runs, tasks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
plan = Plan.model_validate({"goal": "writer", "tasks": [
    {"id": f"t{i}", "tool": "calc", "args": {"expression": f"{i} + 1"}} for i in range(tasks)]})
orch = Orchestrator(store=store, memory=False)
for r in range(runs):
    assert orch.execute(plan, run_id=f"{prefix}-{r}").status.value == "succeeded"
"""


@dataclass
class WritersTrial:
    """`processes` processes writing `runs` runs each into one SQLite store, at once."""

    processes: int
    runs: int
    errors: int = 0
    gaps: int = 0
    unfinished: int = 0
    events: int = 0
    problems: list[str] = field(default_factory=list)


def writers_trial(
    workdir: Path, *, processes: int = 8, runs: int = 2, tasks: int = 10
) -> WritersTrial:
    """Start `processes` writers together; count failed writers, seq gaps, unfinished runs."""
    store = f"sqlite:///{workdir / 'runs.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERITASK_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store, f"w{i}", str(runs), str(tasks)],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    trial = WritersTrial(processes, runs)
    for p in procs:
        _, err = p.communicate(timeout=300)
        if p.returncode != 0:
            trial.errors += 1
            trial.problems.append(err[-300:])
    for i in range(processes):
        for r in range(runs):
            log = run_log(workdir / "runs.db", f"w{i}-{r}")
            trial.events += len(log)
            if [e.seq for e in log] != list(range(1, len(log) + 1)):
                trial.gaps += 1
            if not log or log[-1].type is not EventType.RUN_FINISHED:
                trial.unfinished += 1
    return trial


def store_fault_trial(workdir: Path, kind: str, command: list[str]) -> Measured:
    """`veritask COMMAND --store` against a `corrupt` or `read-only` store file.

    Read-only as root needs the kernel's help (root writes anywhere): the child
    runs without CAP_DAC_OVERRIDE via `setpriv`, so the file's mode applies.
    """
    db = workdir / "runs.db"
    if kind == "corrupt":
        db.write_bytes(random.Random(7).randbytes(20_000))
    elif kind == "read-only":
        subprocess.run(
            [str(VERITASK), "exec", str(_tiny_plan(workdir)), "--store", f"sqlite:///{db}"],
            cwd=workdir,
            capture_output=True,
            check=True,
        )
        for extra in db.parent.glob("runs.db-*"):
            extra.unlink()
        db.chmod(0o444)
        workdir.chmod(0o555)
    else:
        raise ValueError(f"unknown store fault {kind!r}: corrupt or read-only")
    prefix: list[str] = []
    if kind == "read-only" and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise RuntimeError("a read-only store as root needs setpriv (util-linux)")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    try:
        return measured(
            [*prefix, str(VERITASK), *command, "--store", f"sqlite:///{db}"], cwd=workdir.parent
        )
    finally:
        workdir.chmod(0o755)


def _tiny_plan(workdir: Path) -> Path:
    plan = {"goal": "one", "tasks": [{"id": "a", "tool": "calc", "args": {"expression": "1"}}]}
    return write_json(workdir.parent / f"{workdir.name}-plan.json", plan)


_HUGE = [
    "9**9**9",
    "10**308",
    "10**300*10**300",
    "2**1024",
    "1e308*10",
    "pi**pi**pi**pi",
    "round(1, -10**8)",
    "round(1.5, 10**3)",
    "exp(10**6)",
    "sqrt(-1)",
    "log(0)",
    "1/0",
    "10**300 % 0",
    "'a'*10**8",
    "[1]*10**9",
    "9" * 400,
    "(10**154)**3",
    "sum(10**300, 10**300)",
]
_SMALL = ["1", "2.5", "-7", "10**6", "pi", "e", "max(3, 4)", "abs(-2)", "0.1"]
_OPS = [" + ", " - ", " * ", " / ", " // ", " % ", " ** "]


def adversarial_expression(rng: random.Random, max_len: int = 480) -> str:
    """A calc expression built to exhaust CPU or memory: huge powers and products,
    tower exponents, deep nesting, long literals, strings and lists, within 500 chars."""
    shape = rng.random()
    if shape < 0.2:  # deep nesting
        depth = rng.randint(50, 240)
        return "(" * depth + rng.choice(_HUGE + _SMALL) + ")" * depth
    if shape < 0.3:  # a tower of exponents
        return "**".join(
            rng.choice(["9", "99", "2", "10", "1.0001"]) for _ in range(rng.randint(3, 40))
        )
    if shape < 0.4:  # a long run of unary minus
        return "-" * rng.randint(100, 470) + rng.choice(_HUGE + _SMALL)
    parts = [rng.choice(_HUGE if rng.random() < 0.4 else _SMALL)]
    while len(" ".join(parts)) < rng.randint(20, max_len):
        parts += [rng.choice(_OPS), rng.choice(_HUGE if rng.random() < 0.4 else _SMALL)]
    text = "".join(parts)
    return text[:max_len]
