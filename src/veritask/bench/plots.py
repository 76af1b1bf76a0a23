"""PNG plots for the comparison report (matplotlib, Agg backend: no display needed).

matplotlib is an optional dependency (the `bench` extra), imported only
here, so `bench run` and `bench score` work without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from veritask.bench.report import column_title
from veritask.bench.score import Scores


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        from veritask.errors import ConfigError

        raise ConfigError(
            "plots need matplotlib: pip install 'veritask[bench]' (or pip install matplotlib)"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def risk_coverage_plot(scores: Sequence[Scores], path: Path) -> Path:
    """Risk against coverage per results file; the legend carries each AURC."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9.0, 4.6))
    for s in scores:
        if not s.curve:
            continue
        xs = [0.0] + [c for c, _ in s.curve]
        ys = [s.curve[0][1]] + [r for _, r in s.curve]
        style = "--" if s.faults else "-"
        ax.step(
            xs, ys, where="post", linestyle=style, label=f"{column_title(s)}  AURC {s.aurc:.3f}"
        )
    ax.set_xlabel("coverage (share of questions, most confident first)")
    ax.set_ylabel("risk (share not right)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Risk–coverage")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def accuracy_bars(scores: Sequence[Scores], path: Path) -> Path:
    """Grouped bars: coverage, selective accuracy, accuracy, completion per file."""
    plt = _pyplot()
    metrics = [
        ("coverage", "coverage"),
        ("selective acc.", "selective_accuracy"),
        ("accuracy", "accuracy"),
        ("completion", "completion_rate"),
    ]
    fig, ax = plt.subplots(figsize=(9.0, 4.4))
    width = 0.8 / max(1, len(scores))
    for i, s in enumerate(scores):
        xs = [j + i * width for j in range(len(metrics))]
        vals = [_zero_nan(getattr(s, attr)) for _, attr in metrics]
        bars = ax.bar(xs, vals, width, label=column_title(s), hatch="//" if s.faults else None)
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in vals], fontsize=6)
    ax.set_xticks([j + width * (len(scores) - 1) / 2 for j in range(len(metrics))])
    ax.set_xticklabels([m for m, _ in metrics])
    ax.set_ylim(0, 1.1)
    ax.set_title("Accuracy and coverage")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def distribution_plot(
    values: dict[str, list[float]], path: Path, *, title: str, ylabel: str, log: bool = False
) -> Path:
    """Box plots with the individual points over them, one box per results file."""
    plt = _pyplot()
    labels = [k.replace(" (", "\n(") for k in values]
    fig, ax = plt.subplots(figsize=(9.0, 4.4))
    data = [v or [0.0] for v in values.values()]
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(labels) + 1))
    ax.set_xticklabels(labels, fontsize=8)
    for i, ys in enumerate(data, 1):
        offsets = [i + 0.12 * ((j % 7) - 3) / 3 for j in range(len(ys))]
        ax.scatter(offsets, ys, s=9, alpha=0.5)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def recovery_plot(pairs: Sequence[tuple[str, Scores, Scores]], path: Path) -> Path:
    """Accuracy without vs with faults, per mode."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    width = 0.38
    xs = list(range(len(pairs)))
    clean = [_zero_nan(c.accuracy) for _, c, _ in pairs]
    faulty = [_zero_nan(f.accuracy) for _, _, f in pairs]
    b1 = ax.bar([x - width / 2 for x in xs], clean, width, label="no faults")
    rate = pairs[0][2].faults if pairs else 0
    b2 = ax.bar([x + width / 2 for x in xs], faulty, width, label=f"faults {rate:g}", hatch="//")
    for bars in (b1, b2):
        ax.bar_label(bars, labels=[f"{b.get_height():.0%}" for b in bars], fontsize=8)
    ax.set_xticks(xs)
    ax.set_xticklabels([m for m, _, _ in pairs])
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("accuracy (right / all)")
    ax.set_title("Recovery under injected faults")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _zero_nan(x: float) -> float:
    return 0.0 if x != x else x


__all__ = ["accuracy_bars", "distribution_plot", "recovery_plot", "risk_coverage_plot"]
