"""`bench compare`: put the modes side by side in report.md with plots.

Results are discovered, not assumed: every ``*.jsonl`` in the directory
with a ``.meta.json`` sidecar (written by the runner) is one column, named
by its mode and fault rate. So a report can mix files from `bench compare`
(``results-<mode>[-faults<r>].jsonl``) with files from separate `bench`
runs (``dev-orchestrated.jsonl``), and re-running the command after more
results arrive just redraws it. A ``notes.md`` in the directory, if any, is
included verbatim as the report's findings, so hand-written analysis
survives regeneration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from veritask.bench.report import column_title, scores_markdown
from veritask.bench.runner import read_meta
from veritask.bench.score import Scores, score, score_file
from veritask.bench.suite import Question, load_results, load_suite
from veritask.errors import UserError

MODE_ORDER = ("orchestrated", "single-agent", "static")


def results_name(mode: str, faults: float, prefix: str = "results") -> str:
    """The results file `compare` writes for a mode and fault rate."""
    suffix = f"-faults{faults:g}" if faults else ""
    return f"{prefix}-{mode}{suffix}.jsonl"


def discover(out_dir: Path) -> list[Path]:
    """Result files in `out_dir` that have a runner sidecar, clean runs first."""
    found = [p for p in sorted(out_dir.glob("*.jsonl")) if read_meta(p).get("config")]

    def key(p: Path) -> tuple[float, int, str]:
        cfg = read_meta(p)["config"]
        mode = str(cfg.get("mode"))
        rank = MODE_ORDER.index(mode) if mode in MODE_ORDER else len(MODE_ORDER)
        return (float(cfg.get("faults") or 0.0), rank, p.name)

    return sorted(found, key=key)


def recovery_pairs(scores: Sequence[Scores]) -> list[tuple[str, Scores, Scores]]:
    """(mode, clean scores, faulty scores) for modes that have both."""
    clean = {s.mode: s for s in scores if not s.faults}
    return [(s.mode, clean[s.mode], s) for s in scores if s.faults and s.mode in clean]


def _common(questions: Sequence[Question], paths: Sequence[Path]) -> list[Question]:
    ids = set.intersection(*(set(load_results(p)) for p in paths)) if paths else set()
    return [q for q in questions if q.id in ids]


def _health(questions: Sequence[Question], path: Path, s: Scores) -> str:
    """Crash/hang evidence for one file: every question has a line, how the failures ended."""
    rows = load_results(path)
    failed = [r for r in rows.values() if r.get("status") == "failed"]
    timeouts = [r for r in failed if str(r.get("answer") or "").startswith("timed out")]
    cap = read_meta(path).get("config", {}).get("question_timeout_s")
    worst = max((float(r.get("latency_s") or 0.0) for r in rows.values()), default=0.0)
    faults = read_meta(path).get("faults", {})
    injected: dict[str, int] = {}
    for counts in faults.values():
        for kind, n in counts.items():
            injected[kind] = injected.get(kind, 0) + n
    cap_text = f"{cap:g} s" if isinstance(cap, int | float) else "–"
    inj = ", ".join(f"{k} {v}" for k, v in sorted(injected.items())) or "none"
    return (
        f"| {column_title(s)} | {len(rows)} / {s.n + s.missing} | {len(failed)} | "
        f"{len(timeouts)} | {worst:.0f} s (cap {cap_text}) | {inj} |"
    )


def _per_kind(questions: Sequence[Question], scores: Sequence[Scores]) -> str:
    kinds = sorted({q.kind for q in questions if q.kind})
    if not kinds:
        return ""
    head = "| kind | in suite | " + " | ".join(column_title(s) for s in scores) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(scores)]
    for kind in kinds:
        ids = {q.id for q in questions if q.kind == kind}
        cells = []
        for s in scores:
            right = len(ids & set(s.right_ids))
            cells.append(f"{right}/{len(ids & set(s.scored_ids))}")
        lines.append(f"| {kind} | {len(ids)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _recovery_section(pairs: Sequence[tuple[str, Scores, Scores]]) -> str:
    lines = [
        "| mode | accuracy, no faults | accuracy, faults | still right (of right without faults)"
        " | completion under faults |",
        "|---|---:|---:|---:|---:|",
    ]
    for mode, clean, faulty in pairs:
        before = set(clean.right_ids)
        kept = len(before & set(faulty.right_ids))
        share = f"{kept}/{len(before)}" + (f" ({kept / len(before):.0%})" if before else "")
        lines.append(
            f"| {mode} | {clean.accuracy:.0%} | {faulty.accuracy:.0%} | {share} | "
            f"{faulty.completion_rate:.0%} |"
        )
    return "\n".join(lines) + "\n"


def write_report(
    suite: str | Path,
    out_dir: str | Path,
    *,
    limit: int | None = None,
    command: str = "",
    plots: bool = True,
) -> Path:
    """Score every result file in `out_dir`, draw the plots, write report.md; return its path."""
    out_dir = Path(out_dir)
    questions = load_suite(suite)
    if limit:
        questions = questions[:limit]
    paths = discover(out_dir)
    if not paths:
        raise UserError(f"no result files with a .meta.json sidecar in {out_dir}; run bench first")
    scores = [score_file(questions, p) for p in paths]
    common = _common(questions, paths)
    md = [f"# veritask bench report — {Path(suite).name}\n"]
    md.append(f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    if command:
        md.append(f" by `{command}`")
    md.append(".\n\n")
    notes = out_dir / "notes.md"
    if notes.exists():
        md.append(notes.read_text().rstrip() + "\n\n")
    md.append("## Scores (each file over the questions it has)\n\n")
    md.append(scores_markdown(scores))
    if len(paths) > 1 and len(common) < max(s.n for s in scores):
        md.append(f"\n### Same {len(common)} questions in every file\n\n")
        sub = []
        for p, s in zip(paths, scores, strict=True):
            c = score(common, {k: v for k, v in load_results(p).items()}, label=s.label)
            c.mode, c.faults = s.mode, s.faults
            sub.append(c)
        md.append(scores_markdown(sub))
    md.append(
        "\n## Right answers by question kind (right / scored)\n\n" + _per_kind(questions, scores)
    )
    md.append("\n## Did anything crash or hang?\n\n")
    md.append(
        "| results | result lines / questions | failed | timed out | slowest | faults injected |\n"
    )
    md.append("|---|---:|---:|---:|---:|---|\n")
    md.extend(_health(questions, p, s) + "\n" for p, s in zip(paths, scores, strict=True))
    pairs = recovery_pairs(scores)
    if pairs:
        md.append("\n## Recovery under injected faults\n\n" + _recovery_section(pairs))
    if plots:
        md.append("\n## Plots\n\n" + _draw(out_dir, paths, scores, pairs))
    md.append(
        "\n## Definitions\n\nSee `veritask.bench.score`: *right* is a matching `answered` "
        "value (numbers within the suite's relative tolerance; strings case/accent-insensitive) "
        "or `abstained` on an unanswerable question; `partial` is never right. Coverage = "
        "answered share; selective accuracy = right among answered; confident-wrong = "
        "answered, wrong, confidence ≥ 0.5; AURC ranks all questions by confidence "
        "(ties by expectation); ECE uses 10 equal-width bins over answered questions.\n"
    )
    report = out_dir / "report.md"
    report.write_text("".join(md))
    return report


def _draw(
    out_dir: Path,
    paths: Sequence[Path],
    scores: Sequence[Scores],
    pairs: Sequence[tuple[str, Scores, Scores]],
) -> str:
    from veritask.bench import plots

    lat: dict[str, list[float]] = {}
    tok: dict[str, list[float]] = {}
    for p, s in zip(paths, scores, strict=True):
        rows = load_results(p).values()
        lat[column_title(s)] = [float(r.get("latency_s") or 0.0) for r in rows]
        tok[column_title(s)] = [
            float(r.get("input_tokens") or 0) + float(r.get("output_tokens") or 0) for r in rows
        ]
    made = [
        ("Risk–coverage", plots.risk_coverage_plot(scores, out_dir / "risk_coverage.png")),
        ("Accuracy and coverage", plots.accuracy_bars(scores, out_dir / "accuracy_coverage.png")),
        (
            "Latency per question",
            plots.distribution_plot(
                lat, out_dir / "latency.png", title="Latency per question", ylabel="seconds"
            ),
        ),
        (
            "Tokens per question",
            plots.distribution_plot(
                tok, out_dir / "tokens.png", title="Tokens per question", ylabel="tokens"
            ),
        ),
    ]
    if pairs:
        made.append(("Recovery under faults", plots.recovery_plot(pairs, out_dir / "recovery.png")))
    return "".join(f"![{title}]({path.name})\n\n" for title, path in made)


def _finite(x: float) -> bool:
    return not math.isnan(x)


__all__ = ["MODE_ORDER", "discover", "recovery_pairs", "results_name", "write_report"]
