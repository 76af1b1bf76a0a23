"""Plans from memory: new questions of known shapes, cold (planner) against warm (memory).

    PYTHONPATH=src .venv/bin/python benchmarks/memory_reuse.py [--json PATH] [--limit N]

On the shop toolkit (`examples/shop.py`) and the embedded model:

1. *teach*: answer half of `bench/suites/shop.jsonl` (its odd-numbered
   answerable questions) with an empty plan memory; the plans that answer
   with confidence ≥ 0.9 are remembered.
2. *siblings*: each of those questions again with other product names in
   place of its own ("What is the price of a Gizmo?" → "... of a Hammer?"),
   a plural kept plural, the number of a scale question kept; the expected
   answer is computed from the catalogue like the suite's own.
3. each sibling is answered twice, alternately so that load drift hits both
   alike: *cold* by an orchestrator without memory (the planner, as the first
   time) and *warm* by one with the memory from step 1 (a remembered plan
   filled in, checked, and run with no model call — or the planner when no
   remembered shape fits).

Reported per phase: p50 / p95 wall latency per question, model calls,
answered and right (the suite's scorer), and for warm the memory hits. The
goal (issue 16): warm p50 at least 3× below cold p50.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench" / "suites")]

from examples import shop as shop_mod  # noqa: E402
from make_toolkit_suites import SHOP, Q, compute, shop_label, shop_value  # noqa: E402

from veritask import Orchestrator, Settings  # noqa: E402
from veritask.bench.score import answer_matches  # noqa: E402
from veritask.bench.suite import Question  # noqa: E402
from veritask.memory.episodic import PlanMemory  # noqa: E402
from veritask.types import EventType  # noqa: E402

NAMES = [r.name for r in shop_mod.CATALOGUE]


def plural(name: str) -> str:
    if name.endswith(("s", "sh", "ch", "x")):
        return name + "es"
    if name.endswith("y") and name[-2:-1] not in "aeiou":
        return name[:-1] + "ies"
    return name + "s"


def sibling(q: Q, offset: int) -> Q:
    """`q` with other products in place of its own (distinct, plural kept plural)."""
    used = {shop_label(e) for e in q.entities}
    pool = [n for n in NAMES if n not in used]
    text = q.question
    new_entities = []
    for i, entity in enumerate(q.entities):
        wants_plural = shop_label(entity) != entity
        # "Oak Shelf" has no regular plural the shop's matching reads back.
        fits = [n for n in pool if not (wants_plural and n.endswith("f"))]
        name = fits[(offset * 7 + i * 3) % len(fits)]
        pool.remove(name)
        new = plural(name) if wants_plural else name
        text = text.replace(entity, new, 1)
        new_entities.append(new)
    return replace(q, question=text, entities=new_entities)


def spread(questions: list[Q], n: int) -> list[Q]:
    """`n` of `questions`, taking the kinds in turn (lookup, sum, difference, ...)."""
    by_kind: dict[str, list[Q]] = {}
    for q in questions:
        by_kind.setdefault(q.kind, []).append(q)
    out: list[Q] = []
    while len(out) < min(n, len(questions)):
        for group in by_kind.values():
            if group and len(out) < n:
                out.append(group.pop(0))
    return [q for q in questions if q in out]


def halves(limit: int = 0) -> tuple[list[Q], list[Q]]:
    answerable = [q for q in SHOP if q.kind != "unanswerable"]
    teach = answerable[::2]
    if limit:
        teach = spread(teach, limit)
    siblings = []
    for i, q in enumerate(teach):
        for offset in range(i, i + 50):  # a sibling whose compare has no tie
            s = sibling(q, offset)
            try:
                compute(s, shop_value, shop_label)
            except ValueError:
                continue
            siblings.append(s)
            break
    return teach, siblings


def answer(orch: Orchestrator, q: Q) -> dict[str, Any]:
    start = time.perf_counter()
    result = orch.run(q.question)
    wall = time.perf_counter() - start
    a = result.answer
    events = orch.store.events(result.run_id)
    accepted = [e.data for e in events if e.type == EventType.PLAN_ACCEPTED]
    row = {
        "question": q.question,
        "status": a.status.value if a else None,
        "answer": a.text if a else None,
        "value": a.value if a else None,
        "confidence": a.confidence.score if a else None,
        "latency_s": wall,
        "model_calls": a.usage.model_calls if a else None,
        "tokens": (a.usage.input_tokens + a.usage.output_tokens) if a else None,
        "from_memory": bool(accepted and accepted[-1].get("source") == "memory"),
    }
    gold = compute(q, shop_value, shop_label)
    tolerance = 0.01 if isinstance(gold, float) else None
    question = Question(id="x", question=q.question, gold=gold, tolerance=tolerance, has_gold=True)
    row["right"] = row["status"] == "answered" and answer_matches(question, row)
    return row


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    lat = sorted(r["latency_s"] for r in rows)
    return {
        "questions": len(rows),
        "p50_s": statistics.median(lat),
        "p95_s": lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))],
        "mean_s": statistics.fmean(lat),
        "model_calls": sum(r["model_calls"] or 0 for r in rows),
        "tokens": sum(r["tokens"] or 0 for r in rows),
        "answered": sum(r["status"] == "answered" for r in rows),
        "right": sum(r["right"] for r in rows),
        "from_memory": sum(r["from_memory"] for r in rows),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write every row and the summary here")
    parser.add_argument(
        "--limit", type=int, default=0, help="teach only N questions, the kinds taken in turn"
    )
    parser.add_argument(
        "--question-seconds",
        type=float,
        default=120.0,
        help="each question's wall-time budget (default 120, veritask's default)",
    )
    args = parser.parse_args(argv)
    teach, siblings = halves(args.limit)
    tmp = Path(tempfile.mkdtemp(prefix="veritask-memory-bench-"))
    memory = PlanMemory(tmp / "memory.db")
    kw: dict[str, Any] = {
        "toolkits": [shop_mod.shop],
        "settings": Settings(question_seconds=args.question_seconds),
    }
    learner = Orchestrator(store=tmp / "teach.db", memory=memory, **kw)
    cold = Orchestrator(store=tmp / "cold.db", memory=False, **kw)
    warm = Orchestrator(store=tmp / "warm.db", memory=memory, **kw)
    load = [os.getloadavg()[0]]
    taught: list[dict[str, Any]] = []
    rows: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": []}

    def report() -> dict[str, Any]:
        out: dict[str, Any] = {
            "load_1min": [*load, os.getloadavg()[0]],
            "question_seconds": args.question_seconds,
            "remembered": len(memory),
            "teach": summary(taught) if taught else {},
        }
        if rows["cold"] and rows["warm"]:
            out["cold"], out["warm"] = summary(rows["cold"]), summary(rows["warm"])
            out["p50_speedup"] = out["cold"]["p50_s"] / max(out["warm"]["p50_s"], 1e-9)
        if args.json:  # after every question: an interrupted run keeps what it measured
            full = {**out, "rows": {"teach": taught, **rows}}
            args.json.write_text(json.dumps(full, indent=1) + "\n")
        return out

    for q in teach:
        taught.append(answer(learner, q))
        print(f"teach  {taught[-1]['latency_s']:6.1f} s  {taught[-1]['status']:<9} {q.question}")
        report()
    for i, q in enumerate(siblings):
        order = ("cold", "warm") if i % 2 == 0 else ("warm", "cold")
        for phase in order:
            row = answer(cold if phase == "cold" else warm, q)
            rows[phase].append(row)
            mark = "memory" if row["from_memory"] else "planner"
            print(
                f"{phase:<5}  {row['latency_s']:6.1f} s  {row['status']:<9} {mark:<7} "
                f"{'right' if row['right'] else 'WRONG':<5} {q.question}"
            )
        report()
    print(json.dumps(report(), indent=2))


if __name__ == "__main__":
    main()
