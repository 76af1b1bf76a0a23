"""Per-task orchestration overhead: veritask vs LangGraph, side by side.

What is measured
----------------
N no-op tasks (default 1,000) in two shapes, each in memory and with SQLite
persistence, so four cases:

* ``chain``: task i takes task i-1's value (veritask ``{"x": "$t{i-1}"}``;
  LangGraph START → n0 → n1 → … → END over a state ``{"x": int}``).
* ``fan``: N independent tasks and **no join** (veritask: N tasks with
  ``{"x": i}`` and no references; LangGraph: START → each node → END, one
  superstep, each node appending its value to an ``operator.add`` list
  channel — the idiomatic way for parallel nodes to write one key). A join
  would add one task to N, so it changes nothing per task; leaving it out
  keeps both graphs in their simplest idiomatic form.

Both frameworks call the same synchronous function, ``noop(x) -> x``:
veritask as a registered tool in a private ``ToolRegistry``, LangGraph from
a node that reads/writes its state key. The per-task time is therefore pure
framework overhead: scheduling, argument resolution/validation, state
handling, events or checkpoints, persistence.

Fairness rules
--------------
* Construction is timed apart from execution and not included in µs/task.
  veritask: tool registry + ``Plan`` objects + ``Orchestrator`` (opening the
  store). LangGraph: ``StateGraph`` + ``compile()`` (+ opening the
  checkpointer and its ``setup()``). veritask's plan validation is part of
  ``execute`` and so is counted in execution, as a user would pay it.
* Each measurement gets a fresh store / checkpointer and, for SQLite, a fresh
  database file in a temporary directory. Every case is run once as warm-up
  and then ``--repeat`` times, the frameworks interleaved so that a change in
  machine load hits both alike; the median is reported (min and max go to
  the JSON file). ``gc.collect()`` runs before every measurement, and the
  garbage collector is otherwise left on for both.
* Both are driven through their synchronous entry points,
  ``Orchestrator.execute(plan)`` and ``graph.invoke(input, config)``.
* The no-op is registered ``@tool(inline=True)``: a cheap sync tool that runs
  on the event loop, as LangGraph runs a one-node superstep in its own
  thread. The "veritask default" rows register it as a plain ``@tool``, what a
  user writes: a worker thread until the tool has proved short (8 calls under
  1 ms), then the loop, back to the thread after a slow call
  (``veritask.runtime.backends.short_calls``). The record is per process, so
  after the warm-up every measured run finds the no-op already proved; a cold
  process pays the thread hop for its first 8 calls only. The "veritask
  threaded" rows register it ``@tool(inline=False)``: a worker-thread hop on
  every call, the default before the fast path existed.
* veritask runs with its defaults (``backend="inline"``, default policy, so a
  60 s per-task timeout), concurrency 8 (the configured default) unless noted;
  the fan-out is also measured with ``concurrency=1``. LangGraph runs a
  superstep's nodes on its thread pool (sync ``invoke``); a superstep with
  one node (the chain) runs it inline.
* Durability. veritask's SQLite store uses ``journal_mode=WAL`` +
  ``synchronous=NORMAL`` and commits each task's ``TaskStarted`` before the
  tool runs and its result in the next group commit. ``SqliteSaver`` sets
  ``journal_mode=WAL`` and leaves ``synchronous`` at SQLite's default
  (``FULL``: an fsync per commit) and LangGraph's default durability is
  ``"async"`` (a step's checkpoint is written while the next step runs). For
  the main table LangGraph is matched to veritask's guarantee: the benchmark
  opens the connection itself with ``synchronous=NORMAL`` and invokes with
  ``durability="sync"`` (a step's checkpoint is committed before the next
  step starts). ``--extras`` also measures LangGraph out of the box
  (``synchronous=FULL``, ``durability="async"``) so the difference is shown,
  not hidden. The pragmas actually in effect are read back from each
  connection and printed.

Run ``python benchmarks/overhead.py`` (``make bench``); ``--tasks N``,
``--repeat R``, ``--json PATH``, ``--only chain,fan``, ``--extras``.
"""

from __future__ import annotations

import argparse
import gc
import json
import operator
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from veritask import Orchestrator
from veritask.tools.registry import ToolRegistry
from veritask.types import Plan, Task

TARGET_RATIO = 5.0


def noop(x: int) -> int:
    """The work every task does: nothing."""
    return x


# -- one measurement -----------------------------------------------------------


@dataclass
class Prepared:
    """A constructed run, ready to execute once."""

    run: Callable[[], Any]
    check: Callable[[Any], None]
    pragmas: dict[str, Any] = field(default_factory=dict)
    close: Callable[[], None] = lambda: None


@dataclass
class Sample:
    build_s: float
    exec_s: float
    exec_cpu_s: float


def measure(prepare: Callable[[], Prepared]) -> tuple[Sample, dict[str, Any]]:
    gc.collect()
    t0 = time.perf_counter()
    prepared = prepare()
    t1 = time.perf_counter()
    c1 = time.process_time()
    out = prepared.run()
    c2 = time.process_time()
    t2 = time.perf_counter()
    prepared.check(out)
    prepared.close()
    return Sample(t1 - t0, t2 - t1, c2 - c1), prepared.pragmas


def _pragmas(conn: sqlite3.Connection) -> dict[str, Any]:
    return {
        "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
        "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
            conn.execute("PRAGMA synchronous").fetchone()[0]
        ],
    }


# -- veritask ------------------------------------------------------------------


def veritask_plan(shape: str, n: int) -> Plan:
    if shape == "chain":
        tasks = [Task(id="t0", tool="noop", args={"x": 0})]
        tasks += [Task(id=f"t{i}", tool="noop", args={"x": f"$t{i - 1}"}) for i in range(1, n)]
    else:
        tasks = [Task(id=f"t{i}", tool="noop", args={"x": i}) for i in range(n)]
    return Plan(goal=f"{shape} of {n} no-ops", tasks=tasks)


def veritask_case(
    shape: str,
    n: int,
    store: str,
    tmp: Path,
    concurrency: int | None,
    inline: bool | None = True,
) -> Callable[[], Prepared]:
    """`inline=True` registers the no-op as `@tool(inline=True)`: it runs on the event
    loop like LangGraph runs a sync node in its own thread. `inline=None` is the default
    `@tool` (threaded until proved short); `inline=False` is a worker thread per call."""

    def prepare() -> Prepared:
        registry = ToolRegistry()
        registry.tool(inline=inline)(noop)
        plan = veritask_plan(shape, n)
        if store == "sqlite":
            fd, path = tempfile.mkstemp(suffix=".db", dir=tmp)
            os.close(fd)
            os.unlink(path)
            url = f"sqlite:///{path}"
        else:
            url = "memory://"
        orch = Orchestrator(store=url, registry=registry, concurrency=concurrency)
        conn = getattr(orch.store, "_conn", None)
        pragmas = _pragmas(conn) if conn is not None else {}

        def check(result: Any) -> None:
            ok = sum(1 for o in result.outcomes.values() if o.ok)
            assert result.status.value == "succeeded" and ok == n, (result, ok)
            if shape == "chain":
                assert result.value == 0

        return Prepared(lambda: orch.execute(plan), check, pragmas, orch.store.close)

    return prepare


# -- LangGraph -----------------------------------------------------------------


class ChainState(TypedDict):
    x: int


class FanState(TypedDict):
    xs: Annotated[list[int], operator.add]


def _chain_node(state: ChainState) -> dict[str, int]:
    return {"x": noop(state["x"])}


def _fan_node(i: int) -> Callable[[FanState], dict[str, list[int]]]:
    def node(state: FanState) -> dict[str, list[int]]:
        return {"xs": [noop(i)]}

    return node


def langgraph_graph(shape: str, n: int) -> StateGraph:
    if shape == "chain":
        g = StateGraph(ChainState)
        for i in range(n):
            g.add_node(f"n{i}", _chain_node)
        g.add_edge(START, "n0")
        for i in range(1, n):
            g.add_edge(f"n{i - 1}", f"n{i}")
        g.add_edge(f"n{n - 1}", END)
    else:
        g = StateGraph(FanState)
        for i in range(n):
            g.add_node(f"n{i}", _fan_node(i))
            g.add_edge(START, f"n{i}")
            g.add_edge(f"n{i}", END)
    return g


def langgraph_case(
    shape: str,
    n: int,
    store: str,
    tmp: Path,
    *,
    synchronous: str = "NORMAL",
    durability: str = "sync",
) -> Callable[[], Prepared]:
    def prepare() -> Prepared:
        graph = langgraph_graph(shape, n)
        conn = None
        if store == "sqlite":
            fd, path = tempfile.mkstemp(suffix=".db", dir=tmp)
            os.close(fd)
            os.unlink(path)
            conn = sqlite3.connect(path, check_same_thread=False)
            if synchronous != "default":
                conn.execute(f"PRAGMA synchronous={synchronous}")
            saver = SqliteSaver(conn)
            saver.setup()
            app = graph.compile(checkpointer=saver)
            config: dict[str, Any] = {
                "configurable": {"thread_id": "bench"},
                "recursion_limit": 2 * n + 10,
            }
            kwargs: dict[str, Any] = {"durability": durability}
            pragmas = _pragmas(conn) | {"durability": durability}
        else:
            app = graph.compile()
            config = {"recursion_limit": 2 * n + 10}
            kwargs = {}
            pragmas = {}
        start = {"x": 0} if shape == "chain" else {"xs": []}

        def check(out: dict[str, Any]) -> None:
            if shape == "chain":
                assert out["x"] == 0, out
            else:
                assert sorted(out["xs"]) == list(range(n)), len(out["xs"])

        close = conn.close if conn is not None else (lambda: None)
        return Prepared(lambda: app.invoke(start, config, **kwargs), check, pragmas, close)

    return prepare


# -- the run -------------------------------------------------------------------


@dataclass
class Series:
    name: str
    case: str
    framework: str
    prepare: Callable[[], Prepared]
    samples: list[Sample] = field(default_factory=list)
    pragmas: dict[str, Any] = field(default_factory=dict)

    def us_per_task(self, n: int, attr: str = "exec_s") -> float:
        return statistics.median(getattr(s, attr) for s in self.samples) / n * 1e6

    def to_json(self, n: int) -> dict[str, Any]:
        ex = [s.exec_s / n * 1e6 for s in self.samples]
        return {
            "name": self.name,
            "case": self.case,
            "framework": self.framework,
            "exec_us_per_task_median": self.us_per_task(n),
            "exec_us_per_task_min": min(ex),
            "exec_us_per_task_max": max(ex),
            "exec_us_per_task_all": ex,
            "exec_cpu_us_per_task_median": self.us_per_task(n, "exec_cpu_s"),
            "build_ms_median": statistics.median(s.build_s for s in self.samples) * 1e3,
            "pragmas": self.pragmas,
        }


CASES = [("chain", "memory"), ("chain", "sqlite"), ("fan", "memory"), ("fan", "sqlite")]


def build_series(n: int, tmp: Path, shapes: set[str], extras: bool) -> list[Series]:
    out = []
    for shape, store in CASES:
        if shape not in shapes:
            continue
        case = f"{shape}/{store}"
        out.append(Series("veritask", case, "veritask", veritask_case(shape, n, store, tmp, None)))
        out.append(
            Series(
                "veritask default",
                case,
                "veritask",
                veritask_case(shape, n, store, tmp, None, inline=None),
            )
        )
        out.append(
            Series(
                "veritask threaded",
                case,
                "veritask",
                veritask_case(shape, n, store, tmp, None, inline=False),
            )
        )
        if shape == "fan":
            out.append(
                Series("veritask c=1", case, "veritask", veritask_case(shape, n, store, tmp, 1))
            )
        out.append(Series("langgraph", case, "langgraph", langgraph_case(shape, n, store, tmp)))
        if extras and store == "sqlite":
            out.append(
                Series(
                    "langgraph default",
                    case,
                    "langgraph",
                    langgraph_case(shape, n, store, tmp, synchronous="default", durability="async"),
                )
            )
    return out


def machine() -> dict[str, Any]:
    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "-"

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nproc": os.cpu_count(),
        "loadavg_before": list(os.getloadavg()),
        "sqlite": sqlite3.sqlite_version,
        "packages": {
            p: version(p)
            for p in (
                "veritask",
                "pydantic",
                "langgraph",
                "langgraph-checkpoint",
                "langgraph-checkpoint-sqlite",
                "langchain-core",
            )
        },
    }


def report(series: list[Series], n: int) -> list[dict[str, Any]]:
    rows = []
    print(
        f"\n{'case':<14}{'series':<20}{'exec µs/task':>13}{'cpu µs/task':>12}"
        f"{'build ms':>10}  pragmas"
    )
    for s in series:
        pr = ", ".join(f"{k}={v}" for k, v in s.pragmas.items())
        print(
            f"{s.case:<14}{s.name:<20}{s.us_per_task(n):>13.1f}"
            f"{s.us_per_task(n, 'exec_cpu_s'):>12.1f}"
            f"{statistics.median(x.build_s for x in s.samples) * 1e3:>10.1f}  {pr}"
        )
    print(
        f"\n{'case':<14}{'inline':>9}{'default':>9}{'LangGraph':>11}{'LG/inline':>10}"
        f"{'LG/default':>11}  target ≥{TARGET_RATIO:g}× with the default @tool"
    )
    by_case: dict[str, dict[str, Series]] = {}
    for s in series:
        by_case.setdefault(s.case, {})[s.name] = s
    for case, group in by_case.items():
        vt = group["veritask"].us_per_task(n)
        dflt = group["veritask default"].us_per_task(n)
        lg = group["langgraph"].us_per_task(n)
        ratio, dratio = lg / vt, lg / dflt
        verdict = "met" if dratio >= TARGET_RATIO else "MISSED"
        print(
            f"{case:<14}{vt:>9.1f}{dflt:>9.1f}{lg:>11.1f}{ratio:>9.2f}×{dratio:>10.2f}×  {verdict}"
        )
        rows.append(
            {
                "case": case,
                "veritask_us": vt,
                "veritask_default_us": dflt,
                "langgraph_us": lg,
                "ratio": ratio,
                "default_ratio": dratio,
                "target_met": dratio >= TARGET_RATIO,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=1000, help="tasks per run (default 1000)")
    ap.add_argument("--repeat", type=int, default=5, help="measured runs per series (default 5)")
    ap.add_argument("--json", type=Path, help="write all numbers to this file")
    ap.add_argument("--only", default="chain,fan", help="shapes to run: chain,fan")
    ap.add_argument(
        "--extras",
        action="store_true",
        help="also LangGraph with its own SQLite defaults (synchronous=FULL, durability='async')",
    )
    args = ap.parse_args(argv)
    n = args.tasks
    if n < 2 or args.repeat < 1:
        ap.error("--tasks must be at least 2 and --repeat at least 1")
    info = machine()
    print(
        f"{n} no-op tasks, {args.repeat} repetitions (median), python {info['python']}, "
        f"{info['nproc']} CPUs, load {info['loadavg_before'][0]:.2f}"
    )
    print("packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    with tempfile.TemporaryDirectory(prefix="veritask-bench-") as tmpdir:
        series = build_series(n, Path(tmpdir), set(args.only.split(",")), args.extras)
        for s in series:  # warm-up: imports, caches, first-call costs
            _, s.pragmas = measure(s.prepare)
        for rep in range(args.repeat):
            for s in series if rep % 2 == 0 else reversed(series):
                sample, _ = measure(s.prepare)
                s.samples.append(sample)
            print(
                f"  repetition {rep + 1}/{args.repeat} done (load {os.getloadavg()[0]:.2f})",
                file=sys.stderr,
            )
    info["loadavg_after"] = list(os.getloadavg())
    rows = report(series, n)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "tasks": n,
                    "repeat": args.repeat,
                    "machine": info,
                    "summary": rows,
                    "series": [s.to_json(n) for s in series],
                },
                indent=2,
            )
            + "\n"
        )
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
