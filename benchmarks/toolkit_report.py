"""Score toolkit-suite results by subset: all questions, plain phrasings, unseen phrasings.

The toolkit suites mark questions `"unseen": true` whose words appear nowhere
in the toolkit's tools, vocabulary or examples; they are reported apart, as
the Toolkits issue asks. Prints one markdown table per results file:

    .venv/bin/python benchmarks/toolkit_report.py SUITE RESULTS [RESULTS ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from veritask.bench.score import Scores, score
from veritask.bench.suite import load_results, load_suite

ROWS = (
    ("questions", lambda s: f"{s.n}"),
    ("coverage (answered)", lambda s: _pct(s.coverage)),
    ("right among answered", lambda s: _pct(s.selective_accuracy)),
    ("right / all", lambda s: _pct(s.accuracy)),
    ("confident-wrong (≥ 0.5)", lambda s: f"{s.confident_wrong}"),
    ("unanswerable abstained", lambda s: _pct(s.abstention_unanswerable)),
    ("latency p50 / p95 (s)", lambda s: f"{s.latency_p50_s:.1f} / {s.latency_p95_s:.1f}"),
    ("tokens / question", lambda s: f"{s.tokens_per_question:,.0f}"),
)


def _pct(x: float) -> str:
    return "–" if x != x else f"{100 * x:.1f} %"


def subsets(suite: Path) -> dict[str, set[str]]:
    """Question ids per subset, from the suite's own `unseen` marks."""
    unseen = set()
    every = set()
    for line in suite.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            every.add(row["id"])
            if row.get("unseen"):
                unseen.add(row["id"])
    return {"all": every, "plain phrasing": every - unseen, "unseen phrasing": unseen}


def _max_latency(rows: dict[str, dict[str, object]], ids: set[str]) -> str:
    values = [float(r.get("latency_s") or 0.0) for k, r in rows.items() if k in ids]  # type: ignore[arg-type]
    return f"{max(values):.1f}" if values else "–"


def table(suite: Path, results: Path) -> str:
    questions = load_suite(suite)
    rows = load_results(results)
    parts = subsets(suite)
    scored: list[tuple[str, Scores]] = []
    for name, ids in parts.items():
        chosen = [q for q in questions if q.id in ids]
        if chosen:
            scored.append((name, score(chosen, rows, label=name)))
    head = "| " + " | ".join(["", *(n for n, _ in scored)]) + " |"
    rule = "|---" + "|---:" * len(scored) + "|"
    lines = [f"**{results.stem}**", "", head, rule]
    for label, fmt in ROWS:
        lines.append("| " + " | ".join([label, *(fmt(s) for _, s in scored)]) + " |")
    lines.append(
        "| latency max (s) | "
        + " | ".join(_max_latency(rows, parts[name]) for name, _ in scored)
        + " |"
    )
    statuses = scored[0][1].statuses
    lines += ["", "statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", type=Path)
    parser.add_argument("results", type=Path, nargs="+")
    args = parser.parse_args(argv)
    for path in args.results:
        print(table(args.suite, path))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
