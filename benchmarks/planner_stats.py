"""How the planner did on a benchmark run, read back from the event log.

    python benchmarks/planner_stats.py SUITE.jsonl RESULTS.jsonl [--store URL]

For every result line it folds the run's events and reports: a valid plan
on the first round of samples, a valid plan only after repair, no valid
plan (rejected, or refused as out of scope before planning), plans that
escalated, and — with the suite's ground truth — how many runs ended
`answered` and how many of those were right.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from veritask.store import open_store
from veritask.types import EventType


def correct(expected: Any, tolerance: float | None, value: Any, answer: str | None) -> bool:
    """Numbers within relative tolerance; strings equal or contained, case-insensitive."""
    if expected is None:
        return False
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        try:
            got = float(value)
        except (TypeError, ValueError):
            return False
        tol = tolerance if tolerance is not None else 1e-9
        return math.isclose(got, float(expected), rel_tol=tol)
    text = f"{value or ''} {answer or ''}".lower()
    return str(expected).lower() in text


def plan_outcome(events: list[Any]) -> str:
    proposed = [e.data for e in events if e.type == EventType.PLAN_PROPOSED]
    if any(e.type == EventType.PLAN_ACCEPTED for e in events):
        first_round_valid = any(p.get("valid") and p.get("round") == 0 for p in proposed)
        return "valid on first round" if first_round_valid else "valid after repair"
    if not proposed:
        return "refused before planning (out of scope)"
    return "no valid plan (rejected)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("--store", default="sqlite:///.veritask/runs.db")
    args = parser.parse_args(argv)
    truth = {}
    for line in args.suite.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            truth[row["id"]] = row
    store = open_store(args.store)
    plans: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    escalated = answered_right = unanswerable_abstained = 0
    rows = [json.loads(x) for x in args.results.read_text().splitlines() if x.strip()]
    for res in rows:
        events = store.events(res["run_id"]) if res.get("run_id") else []
        plans[plan_outcome(events)] += 1
        escalated += any(e.type == EventType.ESCALATED and e.data.get("taken") for e in events)
        statuses[res["status"]] += 1
        q = truth.get(res["id"], {})
        if res["status"] == "answered" and correct(
            q.get("answer"), q.get("tolerance"), res.get("value"), res.get("answer")
        ):
            answered_right += 1
        if q.get("answer") is None and res["status"] in ("abstained", "failed"):
            unanswerable_abstained += 1
    total = len(rows)
    print(f"questions: {total}")
    for name, count in plans.most_common():
        print(f"  {name}: {count}")
    print(f"  escalated: {escalated}")
    for name, count in statuses.most_common():
        print(f"status {name}: {count}")
    answered = statuses.get("answered", 0)
    print(f"answered and right: {answered_right} of {answered}")
    unanswerable = sum(1 for r in rows if truth.get(r["id"], {}).get("answer") is None)
    print(f"unanswerable questions abstained: {unanswerable_abstained} of {unanswerable}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
