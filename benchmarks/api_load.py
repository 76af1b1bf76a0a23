"""Load on the HTTP API: requests per second, latency, SSE fan-out and server memory.

What is measured
----------------
The server is what `veritask serve` runs — `create_app` under uvicorn, one
process, one event loop — started in a subprocess on 127.0.0.1 with a fresh
SQLite store under /tmp. Its Orchestrators use a ScriptedModel (no LLM, no
network; the planner's relevance check still loads the embedded MiniLM on the
first question) and one toolkit of our own: `double(x)`, `hold(seconds)` and
`tick(i)`, which sleeps `--tick-ms`; `calc` is always there.

1. **GET /v1/runs/{id}** of a finished run (a 3-task plan, 9 events): httpx,
   `--concurrency` requests in flight, for `--duration` seconds or
   `--max-requests`, whichever comes first. With `wrk` installed
   (`apt-get install wrk`), also wrk on the same URL (1 thread, same
   connections): the Python client costs CPU on the same machine, wrk much less.
2. **POST /v1/runs with a plan** of three `calc` tasks (two independent, one
   joining them): the same closed loop. The 202 comes back before the run
   ends, so the runs pile up and execute on the server's loop while the load
   goes on; after the load the script waits until every run it started is
   finished and checks that each one succeeded with the right value
   (runs/s = runs / time from the first POST until the last run finished).
3. **POST /v1/runs with a question** answered by the ScriptedModel (a
   one-step plan calling `double`): the same, plus planning (prompt, parse, validation).
4. **SSE fan-out:** one run whose first task sleeps `--hold-s` (so the clients
   connect while it is live), then a chain of `--ticks` tasks of `--tick-ms`.
   `--sse-clients` clients (default 100) open `GET /v1/runs/{id}/events` at
   once and read to the end. Verified for every client: status 200, ids
   exactly 1..N in order, each event (id, type, data) identical to the run's
   log read afterwards, last event RunFinished, and the client received its
   first event before the run finished (it followed live, not a replay).
   Delivery lag = time a client parsed an event − the event's `at`.

Server memory: VmRSS of the server process is sampled every 50 ms from
/proc/PID/status; the table shows it idle after start, the peak of each
phase, and VmHWM (the peak over the process's life) at the end. CPU seconds
(user + system) of the server and of this client process are shown per phase:
on a shared 2-core machine wall-clock rates mostly say who got the CPU.

Run: `nice -n 19 .venv/bin/python benchmarks/api_load.py [--duration 3]
[--concurrency 16] [--sse-clients 100] [--json PATH]`. Needs the `server`
extra (and `dev` for httpx). Traffic goes to 127.0.0.1 only; every load phase
is bounded in time and in requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------- server side


def serve(port: int, store_url: str, tick_ms: float) -> None:
    """The server subprocess: create_app with a scripted model, under uvicorn."""
    import uvicorn

    from veritask import Orchestrator, Settings, Toolkit, tool
    from veritask.api import ApiConfig, RunOptions, create_app
    from veritask.models import ScriptedModel
    from veritask.store import RunStore, open_store

    @tool(name="tick", idempotent=True)
    async def tick(i: int) -> int:
        """Sleep a moment, then return i + 1.

        Args:
            i: a counter.
        """
        await asyncio.sleep(tick_ms / 1000)
        return i + 1

    @tool(name="hold", idempotent=True, timeout_s=60)
    async def hold(seconds: float) -> float:
        """Sleep `seconds`, then return it.

        Args:
            seconds: how long to wait.
        """
        await asyncio.sleep(seconds)
        return seconds

    @tool(name="double", idempotent=True)
    def double(x: int) -> int:
        """Twice a number.

        Args:
            x: the number to double.
        """
        return 2 * x

    bench = Toolkit(
        name="bench",
        description="Timers and arithmetic for the load benchmark.",
        tools=[tick, hold, double],
        vocabulary={"double": ["twice", "doubled"]},
    )
    script = "1. double(21)\nAnswer: Twice 21 is {$1}.\n"

    def make(store: RunStore, options: RunOptions) -> Orchestrator:
        return Orchestrator(
            store,
            settings=Settings(store=store.url),
            model=ScriptedModel(default=script),
            budget=options.budget,
            toolkits=[bench],
            memory=False,
        )

    store = open_store(store_url)
    app = create_app(
        Settings(store=store.url), orchestrator_factory=make, store=store, config=ApiConfig()
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --------------------------------------------------------------------------- measuring


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Samples the server's VmRSS every `every` seconds in a thread; `peak()` since mark."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), proc_status(self.pid)["VmRSS"]))
            except (OSError, KeyError):
                return
            self._stop.wait(self.every)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def peak_mib(self, since: float) -> float:
        kib = [k for t, k in self.samples if t >= since]
        return round(max(kib) / 1024, 1) if kib else float("nan")


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values, in ms."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank] * 1000, 2)


@dataclass
class Phase:
    name: str
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    rss_peak_mib: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "rps": round(self.requests / self.seconds, 1) if self.seconds else None,
            "p50_ms": pct(self.latencies, 50),
            "p90_ms": pct(self.latencies, 90),
            "p99_ms": pct(self.latencies, 99),
            "max_ms": pct(self.latencies, 100),
            "server_cpu_s": round(self.server_cpu_s, 2),
            "client_cpu_s": round(self.client_cpu_s, 2),
            "rss_peak_mib": self.rss_peak_mib,
            **self.extra,
        }


class Bench:
    def __init__(self, base: str, pid: int, sampler: RssSampler, args: argparse.Namespace):
        self.base, self.pid, self.sampler, self.args = base, pid, sampler, args

    def phase(self, name: str) -> tuple[Phase, float, float, float]:
        return Phase(name), time.monotonic(), cpu_seconds(self.pid), time.process_time()

    def close(self, ph: Phase, t0: float, s0: float, c0: float) -> Phase:
        ph.server_cpu_s = cpu_seconds(self.pid) - s0
        ph.client_cpu_s = time.process_time() - c0
        ph.rss_peak_mib = self.sampler.peak_mib(t0)
        return ph

    async def closed_loop(
        self, client: Any, name: str, method: str, url: str, body: Any = None, ok: int = 200
    ) -> tuple[Phase, list[Any]]:
        """`concurrency` workers sending requests back to back until duration or max."""
        ph, t0, s0, c0 = self.phase(name)
        deadline = t0 + self.args.duration
        budget = [self.args.max_requests]
        bodies: list[Any] = []

        async def worker() -> None:
            while budget[0] > 0 and time.monotonic() < deadline:
                budget[0] -= 1
                start = time.perf_counter()
                try:
                    r = await client.request(method, url, json=body)
                except Exception:  # counted; the load goes on
                    ph.errors += 1
                    continue
                ph.latencies.append(time.perf_counter() - start)
                ph.requests += 1
                if r.status_code != ok:
                    ph.errors += 1
                elif method == "POST":
                    bodies.append(r.json())

        await asyncio.gather(*(worker() for _ in range(self.args.concurrency)))
        ph.seconds = time.monotonic() - t0
        return self.close(ph, t0, s0, c0), bodies

    async def drain(self, client: Any, ph: Phase, run_ids: list[str], expect: Any) -> None:
        """Wait until every run started is finished; check status and value."""
        t0 = time.monotonic()
        pending = set(run_ids)
        results: dict[str, dict[str, Any]] = {}
        while pending and time.monotonic() - t0 < self.args.drain_timeout:
            for run_id in list(pending)[:50]:
                run = (await client.get(f"/v1/runs/{run_id}")).json()
                if not run.get("active") and run.get("status") != "running":
                    results[run_id] = run
                    pending.discard(run_id)
            if pending:
                await asyncio.sleep(0.1)
        wrong = [
            r["run_id"]
            for r in results.values()
            if r.get("status") != "succeeded" or r.get("value") != expect
        ]
        ph.extra.update(
            runs_started=len(run_ids),
            runs_finished=len(results),
            runs_unfinished=len(pending),
            runs_wrong=len(wrong),
            drain_s=round(time.monotonic() - t0, 2),
            runs_per_s=round(len(results) / (ph.seconds + time.monotonic() - t0), 1),
        )
        if wrong:
            ph.extra["wrong_example"] = results[wrong[0]]

    async def sse(self, client: Any) -> Phase:
        """100 clients on one live run; verify every client saw the whole log in order."""
        import httpx

        n_clients, ticks = self.args.sse_clients, self.args.ticks
        tasks: list[dict[str, Any]] = [
            {"id": "h", "tool": "hold", "args": {"seconds": self.args.hold_s}}
        ]
        prev = "h"
        for i in range(ticks):
            arg: Any = 0 if i == 0 else f"${prev}"
            tasks.append({"id": f"t{i}", "tool": "tick", "args": {"i": arg}, "after": [prev]})
            prev = f"t{i}"
        plan = {"goal": "fan-out", "tasks": tasks, "answer_template": f"{{${prev}}} ticks."}

        ph, t0, s0, c0 = self.phase(f"SSE x{n_clients}, one live run")
        r = await client.post("/v1/runs", json={"plan": plan})
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        limits = httpx.Limits(max_connections=n_clients + 10, max_keepalive_connections=0)
        timeout = httpx.Timeout(self.args.drain_timeout, connect=10)

        async def one(streamer: httpx.AsyncClient) -> dict[str, Any]:
            got: list[tuple[float, dict[str, Any]]] = []
            opened = time.perf_counter()
            async with streamer.stream("GET", f"/v1/runs/{run_id}/events") as resp:
                connected = time.perf_counter() - opened
                block: dict[str, str] = {}
                async for line in resp.aiter_lines():
                    if line == "":
                        if "data" in block:
                            got.append((time.time(), block))
                        block = {}
                    elif not line.startswith(":") and ": " in line:
                        name, value = line.split(": ", 1)
                        block[name] = value
            return {"status": resp.status_code, "connected_s": connected, "events": got}

        async with httpx.AsyncClient(base_url=self.base, limits=limits, timeout=timeout) as st:
            outcomes = await asyncio.gather(
                *(one(st) for _ in range(n_clients)), return_exceptions=True
            )
        ph.seconds = time.monotonic() - t0
        self.close(ph, t0, s0, c0)

        # The reference: the log as stored, read after the run ended by one more client.
        ref_resp = await client.get(f"/v1/runs/{run_id}/events")
        ref = [(b["id"], b["event"], json.loads(b["data"])) for b in _parse_sse(ref_resp.text)]
        run = (await client.get(f"/v1/runs/{run_id}")).json()
        finished_at = datetime.fromisoformat(ref[-1][2]["at"]).timestamp()
        ok, problems, lags, live, last_lags = 0, [], [], 0, []
        for k, out in enumerate(outcomes):
            problem = check_client(out, ref)
            if problem is None:
                ok += 1
            else:
                problems.append(f"client {k}: {problem}")
            if isinstance(out, BaseException) or not out["events"]:
                continue
            live += out["events"][0][0] < finished_at
            for received, b in out["events"]:
                at = datetime.fromisoformat(json.loads(b["data"])["at"]).timestamp()
                lags.append(received - at)
            ph.latencies.append(out["connected_s"])
            last_lags.append(out["events"][-1][0] - finished_at)
        live_lags = _live_lags(outcomes, self.args.hold_s)
        ph.requests = n_clients
        ph.errors = n_clients - ok
        ph.extra.update(
            run_status=run.get("status"),
            run_value=run.get("value"),
            events_per_run=len(ref),
            clients_verified=ok,
            clients_followed_live=live,
            problems=problems[:10],
            delivery_lag_p50_ms=pct([x for x in lags if x >= 0], 50),
            delivery_lag_p99_ms=pct([x for x in lags if x >= 0], 99),
            delivery_lag_max_ms=pct([x for x in lags if x >= 0], 100),
            live_event_lag_p99_ms=pct(live_lags, 99),
            live_event_lag_max_ms=pct(live_lags, 100),
            live_event_lag_buckets=buckets(live_lags),
            run_finished_lag_p50_ms=pct(last_lags, 50),
            run_finished_lag_p99_ms=pct(last_lags, 99),
            run_finished_lag_max_ms=pct(last_lags, 100),
            note="latency columns = time to response headers (connect) per client",
        )
        return ph


def check_client(out: Any, ref: list[tuple[str, str, Any]]) -> str | None:
    """What is wrong with one SSE client's stream, compared with the stored log."""
    if isinstance(out, BaseException):
        return f"{type(out).__name__}: {out}"
    seen = [(b["id"], b["event"], json.loads(b["data"])) for _, b in out["events"]]
    ids = [int(i) for i, _, _ in seen]
    if out["status"] != 200:
        return f"status {out['status']}"
    if ids != list(range(1, len(ref) + 1)):
        return f"ids {ids[:5]}… ({len(ids)}), want 1..{len(ref)}"
    if seen != ref:
        bad = next(i for i, (a, b) in enumerate(zip(seen, ref, strict=True)) if a != b)
        return f"event {bad + 1} differs from the stored log"
    if seen[-1][1] != "RunFinished":
        return f"ends with {seen[-1][1]}"
    return None


def _live_lags(outcomes: list[Any], hold_s: float) -> list[float]:
    """Lags of the events written after the hold (every client was connected by then)."""
    lags = []
    for out in outcomes:
        if isinstance(out, BaseException) or not out["events"]:
            continue
        start = datetime.fromisoformat(json.loads(out["events"][0][1]["data"])["at"]).timestamp()
        for received, b in out["events"]:
            at = datetime.fromisoformat(json.loads(b["data"])["at"]).timestamp()
            if at >= start + hold_s:
                lags.append(received - at)
    return lags


def buckets(lags: list[float]) -> dict[str, int]:
    """How many lags fall under each bound (ms)."""
    out: dict[str, int] = {}
    lower = 0.0
    for upper in (25, 50, 100, 200, 300, 500, float("inf")):
        out[f"<{upper:g}ms"] = sum(lower <= x * 1000 < upper for x in lags)
        lower = upper
    return out


def _parse_sse(text: str) -> list[dict[str, str]]:
    out = []
    for chunk in text.split("\n\n"):
        block = {}
        for line in chunk.splitlines():
            if not line.startswith(":") and ": " in line:
                name, value = line.split(": ", 1)
                block[name] = value
        if "data" in block:
            out.append(block)
    return out


def run_wrk(url: str, args: argparse.Namespace) -> dict[str, Any] | None:
    """wrk on one URL, if installed: 1 thread, `concurrency` connections."""
    exe = shutil.which("wrk")
    if exe is None or args.no_wrk:
        return None
    cmd = [
        exe,
        "-t1",
        f"-c{args.concurrency}",
        f"-d{max(1, round(args.duration))}s",
        "--latency",
        "--timeout",
        "5s",
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 30).stdout

    def ms(text: str) -> float:
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)

    found = {q: re.search(rf"^\s+{q}%\s+(\S+)", out, re.M) for q in ("50", "90", "99")}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "name": "GET /v1/runs/{id} (wrk)",
        "requests": int(total.group(1)) if total else None,
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else None,
        "seconds": max(1, round(args.duration)),
        "rps": float(rps.group(1)) if rps else None,
        **{f"p{q}_ms": ms(m.group(1)) if m else None for q, m in found.items()},
        "command": " ".join(cmd),
    }


async def drive(base: str, pid: int, sampler: RssSampler, args: argparse.Namespace) -> list[Any]:
    import httpx

    bench = Bench(base, pid, sampler, args)
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    calc_plan = {
        "goal": "sum",
        "tasks": [
            {"id": "a", "tool": "calc", "args": {"expression": "6 * 7"}},
            {"id": "b", "tool": "calc", "args": {"expression": "8 + 9"}},
            {"id": "c", "tool": "calc", "args": {"expression": "$a + $b"}},
        ],
        "answer_template": "{$c}",
    }
    results: list[Any] = []
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        # Warm-up: one run of each kind, finished; the GET target.
        target = (await client.post("/v1/runs", json={"plan": calc_plan})).json()["run_id"]
        warm = (await client.post("/v1/runs", json={"question": "What is twice 21?"})).json()
        warm_phase = Phase("warm-up")
        await bench.drain(client, warm_phase, [target, warm["run_id"]], None)
        get_url = f"/v1/runs/{target}"
        detail = (await client.get(get_url)).json()
        assert detail["status"] == "succeeded" and detail["value"] == "59", detail
        question = (await client.get(f"/v1/runs/{warm['run_id']}")).json()
        results.append(
            {
                "name": "idle after warm-up",
                "rss_mib": round(proc_status(pid)["VmRSS"] / 1024, 1),
                "question_run_usage": question.get("answer", {}).get("usage"),
                "question_run_value": question.get("value"),
                "plan_run_events": detail["last_seq"],
            }
        )

        ph, _ = await bench.closed_loop(client, "GET /v1/runs/{id} (httpx)", "GET", get_url)
        ph.extra["body_bytes"] = len((await client.get(get_url)).content)
        results.append(ph.summary())
        await asyncio.sleep(0.5)
        t0, s0 = time.monotonic(), cpu_seconds(pid)
        wrk = await asyncio.to_thread(run_wrk, base + get_url, args)
        if wrk is not None:
            wrk["server_cpu_s"] = round(cpu_seconds(pid) - s0, 2)
            wrk["rss_peak_mib"] = sampler.peak_mib(t0)
            results.append(wrk)
        await asyncio.sleep(0.5)

        for name, body, expect in (
            ("POST /v1/runs plan (3 x calc)", {"plan": calc_plan}, "59"),
            ("POST /v1/runs question (scripted)", {"question": "What is twice 21?"}, 42),
        ):
            ph, bodies = await bench.closed_loop(client, name, "POST", "/v1/runs", body, ok=202)
            t_drain = time.monotonic()
            await bench.drain(client, ph, [b["run_id"] for b in bodies], expect)
            ph.rss_peak_mib = sampler.peak_mib(t_drain - ph.seconds)
            results.append(ph.summary())
            await asyncio.sleep(0.5)

        results.append((await bench.sse(client)).summary())
    return results


# --------------------------------------------------------------------------- report


def table(rows: list[dict[str, Any]]) -> str:
    head = [
        "case",
        "requests",
        "errors",
        "rps",
        "p50 ms",
        "p99 ms",
        "max ms",
        "srv CPU ms/req",
        "cli CPU ms/req",
        "RSS peak MiB",
    ]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        if "requests" not in r:
            continue
        lines.append(
            " | ".join(
                str(x)
                for x in (
                    r["name"],
                    r["requests"],
                    r["errors"],
                    r.get("rps"),
                    r.get("p50_ms"),
                    r.get("p99_ms"),
                    r.get("max_ms", ""),
                    per_request(r, "server_cpu_s"),
                    per_request(r, "client_cpu_s"),
                    r.get("rss_peak_mib", ""),
                )
            )
        )
    return "\n".join(f"| {line} |" for line in lines)


def per_request(row: dict[str, Any], key: str) -> Any:
    if row.get(key) is None or not row.get("requests"):
        return ""
    return round(row[key] * 1000 / row["requests"], 2)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("veritask", "fastapi", "starlette", "uvicorn", "httpx", "pydantic"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "-"
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=3.0, help="seconds per load phase")
    p.add_argument("--max-requests", type=int, default=20_000, help="cap per load phase")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    p.add_argument("--sse-clients", type=int, default=100)
    p.add_argument("--ticks", type=int, default=20, help="chained tasks of the SSE run")
    p.add_argument("--tick-ms", type=float, default=20.0)
    p.add_argument("--hold-s", type=float, default=2.0, help="first task of the SSE run")
    p.add_argument("--drain-timeout", type=float, default=120.0)
    p.add_argument("--no-wrk", action="store_true", help="skip wrk even if installed")
    p.add_argument("--json", type=Path, help="write every number here")
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    p.add_argument("--store", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.store, args.tick_ms)
        return

    port = free_port()
    tmp = tempfile.mkdtemp(prefix="veritask-api-load-")
    store = f"sqlite:///{tmp}/runs.db"
    load_before = os.getloadavg()
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(port),
            "--store",
            store,
            "--tick-ms",
            str(args.tick_ms),
        ],
        cwd=tmp,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            if server.poll() is not None:
                raise SystemExit(f"the server exited ({server.returncode})")
        else:
            raise SystemExit("the server did not start in 30 s")
        started = proc_status(server.pid)
        sampler = RssSampler(server.pid).start()
        rows = asyncio.run(drive(base, server.pid, sampler, args))
        end = proc_status(server.pid)
        sampler.stop()
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    memory = {
        "rss_after_start_mib": round(started["VmRSS"] / 1024, 1),
        "rss_idle_after_warmup_mib": rows[0]["rss_mib"],
        "rss_at_end_mib": round(end["VmRSS"] / 1024, 1),
        "vmhwm_mib": round(end["VmHWM"] / 1024, 1),
    }
    print(table(rows))
    print()
    sse = rows[-1]
    print(
        f"SSE: {sse['clients_verified']}/{args.sse_clients} clients verified "
        f"({sse['events_per_run']} events each, identical to the stored log, in order); "
        f"{sse['clients_followed_live']} followed the run live; delivery lag "
        f"p50 {sse['delivery_lag_p50_ms']} ms, p99 {sse['delivery_lag_p99_ms']} ms "
        f"(after the hold: p99 {sse['live_event_lag_p99_ms']} ms); RunFinished reached "
        f"clients after p50 {sse['run_finished_lag_p50_ms']} ms, "
        f"max {sse['run_finished_lag_max_ms']} ms"
    )
    for problem in sse["problems"]:
        print("  problem:", problem)
    for r in rows:
        if "runs_started" in r:
            print(
                f"{r['name']}: {r['runs_finished']}/{r['runs_started']} runs finished, "
                f"{r['runs_wrong']} wrong, {r['runs_per_s']} runs/s end to end "
                f"(drained {r['drain_s']} s after the load)"
            )
    print("server memory (MiB):", memory)
    load_after = os.getloadavg()
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; "
        f"{os.cpu_count()} CPUs"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "cases": rows,
                    "memory": memory,
                    "args": {
                        k: v for k, v in vars(args).items() if k not in ("serve", "store", "json")
                    },
                    "machine": {
                        "cpus": os.cpu_count(),
                        "platform": platform.platform(),
                        "python": platform.python_version(),
                        "load_before": load_before,
                        "load_after": load_after,
                        "nice": os.nice(0),
                    },
                    "versions": versions(),
                    "when": datetime.now().astimezone().isoformat(timespec="seconds"),
                },
                indent=2,
                default=str,
            )
            + "\n"
        )
        print("wrote", args.json)


if __name__ == "__main__":
    main()
