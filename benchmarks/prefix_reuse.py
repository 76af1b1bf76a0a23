"""Prompt evaluation of the planner's prompts with and without the saved system-message state.

    PYTHONPATH=src .venv/bin/python benchmarks/prefix_reuse.py [--questions 6] [--json PATH]

Real planner prompts (geography toolkit: tool catalogue, instructions, notes,
three examples chosen per question) for the first geography dev-suite
questions, on the embedded model (`local:smollm2-135m`), one loaded engine.
Each call is a ``max_tokens=1`` greedy sample, so its time is the prompt's
evaluation plus one token. Two workloads, each run with
``engine.keep_prefix`` off (what llama.cpp's own reuse of the last prompt
gives) and on (plus the saved system-message states), from an empty cache:

- ``samples``: per question, the three samples the planner draws (what
  adaptive sampling leaves is the first two);
- ``interleaved``: per question, one planner sample, then a call with another
  system message (another kind of prompt: the single-agent loop, a second
  toolkit), so the next question finds the cache holding something else.

Reported: prompt tokens evaluated (the engine's count) and wall time of the
calls, summed per workload, plus peak RSS. Modes alternate within one process;
wall times on a shared machine carry the neighbours' load (printed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import threading
import time
from pathlib import Path
from typing import Any

from veritask.models.local import LocalProvider, _Engine
from veritask.planner.catalog import Catalog
from veritask.planner.planner import Planner
from veritask.toolkits.geo import geo

OTHER_SYSTEM = (
    "You answer questions about countries and cities. Think step by step, call a tool "
    "when you need a fact, and give the final answer in one sentence."
)


def questions(n: int) -> list[str]:
    suite = Path(__file__).resolve().parents[1] / "bench" / "suites" / "geo-dev.jsonl"
    lines = suite.read_text().splitlines()[:n]
    return [json.loads(line)["question"] for line in lines]


def planner_messages(qs: list[str]) -> list[list[dict[str, str]]]:
    planner = Planner(model=None, catalog=Catalog.from_toolkits([geo]))  # type: ignore[arg-type]
    out = []
    for q in qs:
        msgs = planner.messages(q, planner.relevance.asked(q))
        out.append([{"role": m["role"], "content": m["content"]} for m in msgs])
    return out


def call(engine: _Engine, msgs: list[dict[str, str]], log: list[int] | None = None) -> float:
    """One max_tokens=1 greedy sample; returns its wall time, logs tokens evaluated."""
    tokens = engine.prompt_tokens(msgs)
    prefix = engine.fixed_prefixes(msgs, tokens)
    before = engine.evaluated
    start = time.perf_counter()
    engine.sample(
        tokens,
        grammar=None,
        max_tokens=1,
        temperature=0.0,
        logprobs=False,
        seed=0,
        cancel=threading.Event(),
        prefix=prefix,
    )
    if log is not None:
        log.append(engine.evaluated - before)
    return time.perf_counter() - start


def workload(
    engine: _Engine, name: str, plans: list[list[dict[str, str]]], keep: bool
) -> dict[str, Any]:
    engine.keep_prefix = keep
    engine.prefix_states.clear()
    engine.llama.n_tokens = 0  # start from an empty cache
    engine.evaluated = 0
    plan_s = other_s = 0.0
    per_call: list[int] = []
    cpu = time.process_time()
    for i, msgs in enumerate(plans):
        if name == "samples":
            for _ in range(3):
                plan_s += call(engine, msgs, per_call)
        else:
            plan_s += call(engine, msgs, per_call)
            other = [
                {"role": "system", "content": OTHER_SYSTEM},
                {"role": "user", "content": msgs[-1]["content"] + f" (#{i})"},
            ]
            other_s += call(engine, other, per_call)
    return {
        "workload": name,
        "keep_prefix": keep,
        "prompt_tokens_evaluated": engine.evaluated,
        "planner_calls_s": plan_s,
        "other_calls_s": other_s,
        "process_cpu_s": time.process_time() - cpu,
        "tokens_per_call": per_call,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=int, default=6)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    plans = planner_messages(questions(args.questions))
    engine = LocalProvider().engine()
    sizes = [len(engine.prompt_tokens(m)) for m in plans]
    prefix = engine.fixed_prefix(plans[0], engine.prompt_tokens(plans[0]))
    print(
        f"{len(plans)} questions, planner prompts {min(sizes)}-{max(sizes)} tokens, "
        f"system-message prefix {prefix} tokens, load {os.getloadavg()[0]:.1f}"
    )
    rows = []
    for name in ("samples", "interleaved"):
        call(engine, plans[0])  # warm-up
        for keep in (False, True, False, True):
            rows.append(workload(engine, name, plans, keep))
            r = rows[-1]
            print(
                f"{name:<12} keep_prefix={keep!s:<5} evaluated {r['prompt_tokens_evaluated']:>6} "
                f"tokens, planner calls {r['planner_calls_s']:.2f} s, "
                f"other calls {r['other_calls_s']:.2f} s, CPU {r['process_cpu_s']:.2f} s; "
                f"per call {r['tokens_per_call']}"
            )
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss_mib:.0f} MiB, load {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"rows": rows, "prefix_tokens": prefix, "prompt_tokens": sizes, "rss_mib": rss_mib},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
