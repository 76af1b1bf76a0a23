"""Reliability at full size: crashes, concurrent drivers and writers, broken stores,
huge and hostile inputs — each reported as counts, with time and peak memory.

What is measured
----------------
1. **SIGKILL of `veritask exec`** (`--kills`, default 100, half on a plan of 30
   independent non-idempotent side effects, half on the same plan with an
   idempotent tool). Every call appends its task's name to a ledger file and
   then takes 50 ms, so a kill lands mid-call. The kill comes at a random
   moment between the first side effect and 80 % of the run. Then the user's
   recovery: `veritask resume`; each task left `unknown` is settled from the
   ledger (it ran → done with its value, it did not → not done); `resume`
   again. Counted: completed tasks lost (succeeded at the kill, then missing,
   changed or run again), duplicated side effects (a non-idempotent task in
   the ledger twice), idempotent re-runs (allowed: the calls the kill
   interrupted), tasks settled, runs that could not be resumed to
   `succeeded` with one consistent log.
2. **Two resumers at once** (`--resumer-trials`, default 10): `exec` killed
   while 4 non-idempotent calls are in flight, two `resume`s started
   together; a gate keeps the winner driving until the other has ended.
   Counted: drivers, refusals, duplicated side effects, inconsistent logs.
3. **8 processes writing runs into one SQLite store** (`--writers 8`,
   `--writer-runs 5` runs of 30 `calc` tasks each): failed writers, runs with
   a seq gap, unfinished runs, events written.
4. **Corrupt and read-only stores**: `runs`, `show`, `exec`, `resume` against a
   file of random bytes and against a read-only file (as root, the child runs
   without CAP_DAC_OVERRIDE so the mode applies): exit code, the one line it
   printed, traceback or not.
5. **Bounded inputs**, each a real `veritask` process with its wall time and
   peak RSS (the kernel's rusage of the child): a 10,000-task plan (exec, then
   `show` at 80 columns), a plan nested 100,000 deep, a plan with a 50 MB
   argument, a plan of 200 hostile `calc` tasks; and 10,000 `calc`
   expressions built to exhaust CPU or memory (huge powers, exponent towers,
   deep nesting, long literals, strings and lists), evaluated in this
   process: the slowest, how many failed with InvalidInput, and how many
   raised anything else (must be 0).

Run (about 15 minutes on two shared cores):

    nice -n 10 .venv/bin/python benchmarks/reliability.py --json docs/benchmarks/reliability.json

Uses the same trial functions as `tests/reliability/` (tests/helpers/reliability.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from helpers.processes import VERITASK, write_json  # noqa: E402
from helpers.reliability import (  # noqa: E402
    KillTrial,
    Measured,
    adversarial_expression,
    kill_trial,
    measured,
    store_fault_trial,
    two_resumers_trial,
    writers_trial,
)
from veritask.errors import ToolError  # noqa: E402
from veritask.tools.builtin.calc import evaluate  # noqa: E402


def _fresh(root: Path, name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    return path


def kills(root: Path, n: int, seed: int, progress: Callable[[str], None]) -> dict[str, Any]:
    rng = random.Random(seed)
    trials: list[KillTrial] = []
    for i in range(n):
        idempotent = i % 2 == 1
        trials.append(kill_trial(_fresh(root, "kill"), rng, idempotent=idempotent))
        t = trials[-1]
        if t.problems or t.lost or t.duplicated:
            progress(f"  kill {i}: {t}")
        if (i + 1) % 10 == 0:
            progress(f"  {i + 1}/{n} kills")
    out: dict[str, Any] = {}
    for label, idem in (("non_idempotent", False), ("idempotent", True)):
        mine = [t for t in trials if t.idempotent is idem]
        out[label] = {
            "kills": len(mine),
            "landed_after_the_run_finished": sum(t.finished_before_kill for t in mine),
            "tasks_succeeded_at_kill": sum(t.succeeded_at_kill for t in mine),
            "completed_tasks_lost": sum(t.lost for t in mine),
            "duplicated_side_effects": sum(t.duplicated for t in mine),
            "idempotent_reruns": sum(t.reran for t in mine),
            "tasks_settled_by_the_user": sum(t.settled for t in mine),
            "runs_not_resumed": sum(not t.resumed for t in mine),
            "problems": [p for t in mine for p in t.problems],
        }
    return out


def resumers(root: Path, n: int) -> dict[str, Any]:
    trials = [two_resumers_trial(_fresh(root, "resumers")) for _ in range(n)]
    return {
        "trials": n,
        "drivers": Counter(t.drove for t in trials),
        "refused": sum(t.refused for t in trials),
        "duplicated_side_effects": sum(t.duplicated for t in trials),
        "inconsistent_logs": sum(bool(t.problems) for t in trials),
        "problems": [p for t in trials for p in t.problems],
    }


def writers(root: Path, processes: int, runs: int) -> dict[str, Any]:
    started = time.monotonic()
    trial = writers_trial(_fresh(root, "writers"), processes=processes, runs=runs, tasks=30)
    return {**asdict(trial), "seconds": round(time.monotonic() - started, 1)}


def _summary(m: Measured) -> dict[str, Any]:
    lines = [ln for ln in m.stderr.strip().splitlines() if ln.strip()]
    return {
        "exit": m.returncode,
        "seconds": round(m.seconds, 2),
        "max_rss_mb": round(m.max_rss_mb, 1),
        "traceback": "Traceback" in m.stderr,
        "stderr_lines": len(lines),
        "message": lines[-1][:240] if lines else "",
    }


def stores(root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("corrupt", "read-only"):
        for command in (["runs"], ["show", "r1"], ["exec", "{plan}"], ["resume", "r1"]):
            work = _fresh(root, "store") / "store"
            work.mkdir()
            plan = write_json(
                work.parent / "store-plan.json",
                {"tasks": [{"id": "a", "tool": "calc", "args": {"expression": "1"}}]},
            )
            args = [str(plan) if a == "{plan}" else a for a in command]
            out[f"{kind} {command[0]}"] = _summary(store_fault_trial(work, kind, args))
    return out


def _exec(work: Path, plan_file: Path, *extra: str) -> Measured:
    store = f"sqlite:///{work / 'runs.db'}"
    return measured(
        [str(VERITASK), "exec", str(plan_file), "--store", store, "--json", *extra], cwd=work
    )


def inputs(root: Path, seed: int, expressions: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    work = _fresh(root, "big")
    tasks = [
        {"id": f"t{i}", "tool": "calc", "args": {"expression": f"{i} + 1"}} for i in range(10_000)
    ]
    big = _exec(work, write_json(work / "plan.json", {"goal": "10k", "tasks": tasks}))
    out["10,000-task plan: exec"] = {
        **_summary(big),
        "status": json.loads(big.stdout)["status"] if big.stdout else None,
    }
    run_id = json.loads(big.stdout)["run_id"] if big.stdout else "?"
    shown = measured(
        [str(VERITASK), "show", run_id, "--store", f"sqlite:///{work / 'runs.db'}"],
        cwd=work,
        env={**_env(), "COLUMNS": "80"},
    )
    out["10,000-task plan: show at 80 columns"] = {
        **_summary(shown),
        "lines": len(shown.stdout.splitlines()),
        "widest_line": max((len(x) for x in shown.stdout.splitlines()), default=0),
    }
    work = _fresh(root, "deep")
    deep = work / "deep.json"
    deep.write_text(
        '{"tasks":[{"id":"a","tool":"calc","args":{"expression":'
        + '{"x":' * 100_000
        + "1"
        + "}" * 100_000
        + "}}]}"
    )
    out["plan nested 100,000 deep"] = _summary(_exec(work, deep))
    work = _fresh(root, "fifty")
    fifty = work / "fifty.json"
    with fifty.open("w") as f:
        f.write('{"tasks":[{"id":"a","tool":"calc","args":{"expression":"')
        f.write("1" * 50 * 2**20)
        f.write('"}}]}')
    out["plan with a 50 MB argument"] = _summary(_exec(work, fifty))
    rng = random.Random(seed)
    work = _fresh(root, "hostile")
    hostile = [
        {"id": f"t{i}", "tool": "calc", "args": {"expression": adversarial_expression(rng)}}
        for i in range(200)
    ]
    ran = _exec(work, write_json(work / "plan.json", {"goal": "hostile", "tasks": hostile}))
    statuses = Counter(t["status"] for t in json.loads(ran.stdout)["tasks"]) if ran.stdout else {}
    out["plan of 200 hostile calc tasks"] = {**_summary(ran), "tasks": dict(statuses)}
    out["calc expressions built to exhaust CPU or memory"] = _calc_fuzz(rng, expressions)
    return out


def _calc_fuzz(rng: random.Random, n: int) -> dict[str, Any]:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    slowest, kinds, other = 0.0, Counter[str](), []
    longest_error = 0
    for _ in range(n):
        expression = adversarial_expression(rng)
        started = time.perf_counter()
        try:
            evaluate(expression)
            kinds["a number"] += 1
        except ToolError as exc:
            kinds[exc.kind] += 1
            longest_error = max(longest_error, len(str(exc)))
        except Exception as exc:
            other.append(f"{type(exc).__name__}: {str(exc)[:120]} for {expression[:80]!r}")
        slowest = max(slowest, time.perf_counter() - started)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "expressions": n,
        "results": dict(kinds),
        "other_exceptions": len(other),
        "examples_of_other": other[:5],
        "slowest_s": round(slowest, 4),
        "longest_error_chars": longest_error,
        "peak_rss_growth_mb": round(after - before, 1),
    }


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("VERITASK_")}


def machine() -> dict[str, Any]:
    import os
    from importlib.metadata import version

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": __import__("sqlite3").sqlite_version,
        "veritask": version("veritask"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--resumer-trials", type=int, default=10)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--writer-runs", type=int, default=5)
    parser.add_argument("--expressions", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--only", default="kills,resumers,writers,stores,inputs")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()
    only = set(args.only.split(","))

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    root = Path(tempfile.mkdtemp(prefix="veritask-reliability-"))
    report: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv)}
    started = time.monotonic()
    try:
        if "kills" in only:
            say(f"SIGKILL of exec × {args.kills} …")
            report["sigkill"] = kills(root, args.kills, args.seed, say)
        if "resumers" in only:
            say(f"two resumers at once × {args.resumer_trials} …")
            report["two_resumers"] = resumers(root, args.resumer_trials)
        if "writers" in only:
            say(f"{args.writers} processes writing one SQLite store …")
            report["writers"] = writers(root, args.writers, args.writer_runs)
        if "stores" in only:
            say("corrupt and read-only stores …")
            report["stores"] = stores(root)
        if "inputs" in only:
            say("bounded inputs …")
            report["inputs"] = inputs(root, args.seed, args.expressions)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report["seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
