"""Scores as tables: a rich table for the terminal, Markdown for report.md.

Both list the same metrics in the same order, one column per results file,
so `bench score A B C` reads like the report's headline table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from rich.table import Table

from veritask.bench.score import Scores


def _pct(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:.1f}%"


def _num(fmt: str) -> Callable[[float], str]:
    def render(x: float) -> str:
        return "–" if isinstance(x, float) and math.isnan(x) else format(x, fmt)

    return render


ROWS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("questions scored", "n", str),
    ("completion rate", "completion_rate", _pct),
    ("coverage (answered)", "coverage", _pct),
    ("selective accuracy", "selective_accuracy", _pct),
    ("accuracy (right / all)", "accuracy", _pct),
    ("confident-wrong (conf ≥ 0.5)", "confident_wrong", str),
    ("abstention on unanswerable", "abstention_unanswerable", _pct),
    ("AURC (lower is better)", "aurc", _num(".3f")),
    ("ECE, 10 bins (answered)", "ece", _num(".3f")),
    ("latency p50 (s)", "latency_p50_s", _num(".1f")),
    ("latency p95 (s)", "latency_p95_s", _num(".1f")),
    ("tokens / question", "tokens_per_question", _num(",.0f")),
    ("USD / question", "usd_per_question", _num(".4f")),
]


def column_title(s: Scores) -> str:
    """`mode` (with the fault rate when faults were injected), else the file label."""
    if not s.mode:
        return s.label
    return s.mode + (f" (faults {s.faults:g})" if s.faults else "")


def statuses_line(s: Scores) -> str:
    order = ("answered", "partial", "abstained", "failed")
    keys = [k for k in order if k in s.statuses] + sorted(set(s.statuses) - set(order))
    return ", ".join(f"{k} {s.statuses[k]}" for k in keys)


def scores_table(scores: Sequence[Scores]) -> Table:
    """A rich table: metrics down, result files across."""
    table = Table(title="veritask bench score", show_lines=False)
    table.add_column("metric")
    for s in scores:
        table.add_column(column_title(s), justify="right")
    for title, attr, render in ROWS:
        table.add_row(title, *(render(getattr(s, attr)) for s in scores))
    table.add_row("statuses", *(statuses_line(s) for s in scores))
    missing = [s.missing for s in scores]
    if any(missing):
        table.add_row("suite questions without a result", *(str(m) for m in missing))
    return table


def scores_markdown(scores: Sequence[Scores]) -> str:
    """The same table as Markdown."""
    head = "| metric | " + " | ".join(column_title(s) for s in scores) + " |"
    rule = "|---|" + "---:|" * len(scores)
    lines = [head, rule]
    for title, attr, render in ROWS:
        lines.append(f"| {title} | " + " | ".join(render(getattr(s, attr)) for s in scores) + " |")
    lines.append("| statuses | " + " | ".join(statuses_line(s) for s in scores) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["ROWS", "column_title", "scores_markdown", "scores_table", "statuses_line"]
