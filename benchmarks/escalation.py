"""Proportionality of per-task escalation: accuracy for tokens, and no confident mistakes.

    nice -n 10 .venv/bin/python benchmarks/escalation.py \\
        --json docs/benchmarks/escalation.json --plot docs/benchmarks/escalation.png

The suite is `llm.extract` tasks over short passages, generated here with
their ground truth: easy ones (one candidate span) and hard ones (a
distractor of the same kind: the room booked first, the city the team left).
Each item is one plan with one task, run three ways on the embedded model
through the real Orchestrator. The worker's first call draws its usual 4
samples; its confidence is the probability of its answer under the
grammar-constrained model (see `veritask.models.worker_scoring`).

- `never`: `on_low_confidence="accept"` — the first call only;
- `always`: `min_confidence=1.0` — every task climbs the ladder, i.e. always
  the strongest rung this machine has (4 more samples in a second call); no
  stronger model is configured here;
- `per-task`: `min_confidence=THRESHOLD`, `escalate` — only a task whose
  first call is unsure climbs.

All three end with fallback `accept` (a value under the threshold flows on,
flagged), so they differ only in when they climb. In every condition the
deep-agent rung is kept out by the run's token budget (it is skipped with
that reason, as the ladder logs). An item counts as answered when its task
succeeded with confidence >= THRESHOLD (what the answer assembler calls
`answered`); correct when the span holds the ground truth and none of the
item's distractors (a whole sentence naming only the answer is correct, one
naming both rooms is not); confidently wrong when answered and not correct.
Tokens are the run's input + output tokens.

A row that failed for a machine reason (a timeout, a model that would not
load or answer: the task's error is one of `MACHINE_ERRORS`, the run raised,
or it got no model output at all) says nothing about escalation: it is run
again, on a fresh Orchestrator, up to `TRIES` times, and left out (named)
if it never succeeds, never kept as a wrong answer. `--json` is rewritten
after every row, and a run given an existing `--json` file resumes it: the
rows already there are kept and not run again, so a killed run loses at most
the row it was on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from veritask import Budget, Orchestrator
from veritask.models.confidence import normalize_answer

THRESHOLD = 0.8
BUDGET = Budget(max_tokens=2500)
"""Room for the resample rung (~300 tokens), not for the deep agent (~4,800)."""
MACHINE_ERRORS = frozenset({"TaskTimeout", "ModelError", "EscalationFailed", "ConfigError"})
"""Task errors that come from the machine, not the method: a model call that timed out or
failed (a rung's ModelError ends its climb as EscalationFailed), a model that would not load."""
TRIES = 3
"""Runs of one row before it is left out for machine failures."""


@dataclass(frozen=True)
class Item:
    id: str
    difficulty: str
    text: str
    what: str
    truth: str
    distractors: tuple[str, ...] = ()


_EASY: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("The parcel weighs {a} kg.", "the weight of the parcel", "{a} kg", ()),
    ("The train to the coast leaves at {t}.", "the departure time", "{t}", ()),
    ("Her manager is called {n}.", "the manager's name", "{n}", ()),
    ("The meeting is in Room {r}; bring your laptop.", "the room of the meeting", "Room {r}", ()),
]
_HARD: list[tuple[str, str, str, tuple[str, ...]]] = [
    (
        "Room {r} was booked first, but the meeting moved to Room {s}. Lunch is in Room {q}.",
        "the room where the meeting is now",
        "Room {s}",
        ("Room {r}", "Room {q}"),
    ),
    (
        "The old office was in {c}; since March the team works from {d}, near the {c} road.",
        "the city the team works from now",
        "{d}",
        ("{c}",),
    ),
    (
        "{n} sent the report to {m}, who forwarded it to {o}.",
        "who received the report last",
        "{o}",
        ("{n}", "{m}"),
    ),
    (
        "The first invoice was {a} euros, but after the discount it came to {b} euros.",
        "the amount after the discount",
        "{b} euros",
        ("{a} euros",),
    ),
]
_FILL = [
    dict(a="12", b="87", t="9:45", n="Maria Lopez", m="Tom Baker", o="Aiko Sato",
         r="4B", s="7C", q="2A", c="Leeds", d="Bristol"),
    dict(a="31", b="240", t="14:10", n="Jonas Weber", m="Ines Costa", o="Ravi Shah",
         r="12", s="3F", q="9D", c="Porto", d="Braga"),
    dict(a="5", b="19", t="6:30", n="Lena Fischer", m="Omar Haddad", o="Zoe Martin",
         r="1A", s="5E", q="8B", c="Lyon", d="Nantes"),
]  # fmt: skip


def suite() -> list[Item]:
    """Easy and hard items, three fillings each (24 items)."""
    out = []
    for difficulty, templates in (("easy", _EASY), ("hard", _HARD)):
        for i, (text, what, truth, others) in enumerate(templates):
            for j, fill in enumerate(_FILL):
                out.append(
                    Item(
                        f"{difficulty}-{i}-{j}",
                        difficulty,
                        text.format(**fill),
                        what,
                        truth.format(**fill),
                        tuple(o.format(**fill) for o in others),
                    )
                )
    return out


POLICIES: dict[str, dict[str, Any]] = {
    "never": {"min_confidence": THRESHOLD, "on_low_confidence": "accept"},
    "always": {"min_confidence": 1.0, "on_low_confidence": "escalate", "fallback": "accept"},
    "per-task": {
        "min_confidence": THRESHOLD,
        "on_low_confidence": "escalate",
        "fallback": "accept",
    },
}


def _holds(span: str, part: str) -> bool:
    return bool(re.search(rf"(?<!\w){re.escape(normalize_answer(part))}(?!\w)", span))


def correct(value: Any, item: Item) -> bool:
    """The span holds the truth and none of the item's distractors (the other room, the
    city the team left): it answers, and unambiguously. A bare number is right when it is
    the truth's number: `llm.extract` answers a request for an amount with the number
    alone ("240" for "240 euros")."""
    if not isinstance(value, str):
        return False
    span = normalize_answer(value)
    number = re.search(r"\d+(?:\.\d+)?", item.truth)
    if number is not None and value.strip() == number.group(0):
        return True
    return _holds(span, item.truth) and not any(_holds(span, d) for d in item.distractors)


@dataclass
class Row:
    item: str
    difficulty: str
    condition: str
    value: Any
    confidence: float
    answered: bool
    correct: bool
    """The value is right, answered or not (confident-wrong = answered and not correct)."""
    tokens: int
    rungs: list[str]
    seconds: float
    first_confidence: float = -1.0
    """The first call's confidence (before any rung)."""


class MachineFailure(Exception):
    """A row failed for a machine reason (see the module doc): run it again."""


async def run_one(orch: Orchestrator, item: Item, condition: str) -> Row:
    plan = {
        "goal": item.what,
        "tasks": [
            {
                "id": "x",
                "tool": "llm.extract",
                "args": {"text": item.text, "what": item.what},
                "policy": POLICIES[condition],
            }
        ],
    }
    started = time.perf_counter()
    try:
        result = await orch.aexecute(plan)
    except Exception as exc:  # the model would not load, the store broke: not a result
        raise MachineFailure(f"the run raised {type(exc).__name__}: {exc}") from exc
    outcome = result.outcomes["x"]
    tokens = result.usage.input_tokens + result.usage.output_tokens
    if outcome.error is not None and outcome.error.type in MACHINE_ERRORS:
        raise MachineFailure(f"{outcome.error.type}: {outcome.error.message[:160]}")
    if tokens == 0:
        raise MachineFailure("no model output at all")
    rungs = [
        str(e.data["rung"])
        for e in orch.store.events(result.run_id)
        if e.type == "Escalated" and e.data.get("taken")
    ]
    climbs = [e.data for e in orch.store.events(result.run_id) if e.type == "Escalated"]
    first = float(climbs[0]["before"]) if climbs else outcome.confidence.score
    answered = outcome.ok and outcome.confidence.score >= THRESHOLD
    return Row(
        item.id,
        item.difficulty,
        condition,
        outcome.value,
        round(outcome.confidence.score, 4),
        answered,
        correct(outcome.value, item),
        tokens,
        rungs,
        round(time.perf_counter() - started, 2),
        round(first, 4),
    )


def summarise(rows: list[Row]) -> dict[str, dict[str, float]]:
    out = {}
    for condition in POLICIES:
        mine = [r for r in rows if r.condition == condition]
        n = len(mine) or 1
        answered = [r for r in mine if r.answered]
        out[condition] = {
            "items": len(mine),
            "accuracy": sum(r.correct for r in mine) / n,
            "accuracy_answered": sum(r.correct for r in answered) / (len(answered) or 1),
            "confident_wrong": sum(r.answered and not r.correct for r in mine) / n,
            "coverage": sum(r.answered for r in mine) / n,
            "tokens_per_question": sum(r.tokens for r in mine) / n,
            "escalated": sum(bool(r.rungs) for r in mine) / n,
            "seconds_per_question": sum(r.seconds for r in mine) / n,
        }
    return out


def plot(summary: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    metrics = ("accuracy", "confident_wrong", "coverage")
    width = 0.25
    for k, metric in enumerate(metrics):
        xs = [i + (k - 1) * width for i in range(len(names))]
        left.bar(xs, [summary[n][metric] for n in names], width, label=metric.replace("_", "-"))
    left.set_xticks(range(len(names)), names)
    left.set_ylim(0, 1)
    left.set_title(f"llm.extract, answered at confidence >= {THRESHOLD}")
    left.legend(fontsize=8)
    for k, metric in enumerate(metrics):  # a zero bar is invisible: print every value
        for i, n in enumerate(names):
            x, y = i + (k - 1) * width, summary[n][metric]
            left.annotate(f"{y:.2f}", (x, y), ha="center", xytext=(0, 2), fontsize=7,
                          textcoords="offset points")  # fmt: skip
    tokens = [summary[n]["tokens_per_question"] for n in names]
    for metric, marker in (("accuracy", "o"), ("coverage", "s")):
        ys = [summary[n][metric] for n in names]
        right.plot(tokens, ys, marker=marker, linestyle="none", label=metric)
    for n, x in zip(names, tokens, strict=True):
        right.annotate(n, (x, summary[n]["coverage"]), textcoords="offset points",
                       xytext=(0, -14), ha="center", fontsize=8)  # fmt: skip
    right.set_ylim(0, 1)
    right.set_xlabel("tokens per question")
    right.set_ylabel("share of items")
    right.set_title("accuracy and coverage for tokens")
    right.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def new_orchestrator() -> Orchestrator:
    return Orchestrator("memory://", memory=False, budget=BUDGET)


async def run_all(
    items: list[Item],
    *,
    save_to: Path | None = None,
    orchestrator: Callable[[], Orchestrator] = new_orchestrator,
) -> list[Row]:
    """Every (item, condition) row not yet in `save_to`, saving after each one."""
    rows = load_rows(save_to) if save_to is not None and save_to.exists() else []
    if rows:
        print(f"resuming {save_to}: {len(rows)} row(s) kept, not run again", flush=True)
    done = {(r.item, r.condition) for r in rows}
    orch = orchestrator()
    for item in items:
        for condition in POLICIES:
            if (item.id, condition) in done:
                continue
            row, orch = await run_row(orch, item, condition, orchestrator)
            if row is None:
                print(f"{item.id:10} {condition:9} left out: failed {TRIES} times", flush=True)
                continue
            rows.append(row)
            if save_to is not None:
                save(save_to, rows)
            print(
                f"{row.item:10} {condition:9} {str(row.value)[:40]:40} "
                f"conf {row.confidence:.2f} {'ok ' if row.correct else '-- '}"
                f"{row.tokens:5} tok {','.join(row.rungs)}",
                flush=True,
            )
    return rows


async def run_row(
    orch: Orchestrator, item: Item, condition: str, orchestrator: Callable[[], Orchestrator]
) -> tuple[Row | None, Orchestrator]:
    """One row, run again on a fresh Orchestrator after a machine failure (a failing
    provider may have opened the router's circuit breaker); None after `TRIES` runs."""
    for attempt in range(1, TRIES + 1):
        try:
            return await run_one(orch, item, condition), orch
        except MachineFailure as exc:
            print(f"{item.id:10} {condition:9} try {attempt}: {exc}", flush=True)
            orch = orchestrator()
    return None, orch


def load_rows(path: Path) -> list[Row]:
    """The rows of a --json file written with this benchmark's settings."""
    saved = json.loads(path.read_text())
    if saved.get("threshold") != THRESHOLD or saved.get("budget") != _budget():
        raise SystemExit(
            f"{path} was written with other settings (threshold {saved.get('threshold')}, "
            f"budget {saved.get('budget')}); give another --json path to start a new run"
        )
    return [Row(**r) for r in saved["rows"]]


def save(path: Path, rows: list[Row]) -> None:
    """Write rows and their summary; atomically, so a run killed mid-write keeps the last."""
    data = {
        "threshold": THRESHOLD,
        "budget": _budget(),
        "machine": platform.platform(),
        "summary": summarise(rows),
        "rows": [asdict(r) for r in rows],
    }
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(data, indent=1))
    os.replace(part, path)


def _budget() -> dict[str, Any]:
    return BUDGET.model_dump(exclude_none=True)


def rescored(paths: list[Path]) -> list[Row]:
    """Rows of earlier runs (merged), their correctness judged again by `correct`.

    An item with a run that got no model output at all (0 tokens: every call failed,
    e.g. timed out on an overloaded machine) is left out whole, and named.
    """
    items = {i.id: i for i in suite()}
    rows = [Row(**r) for path in paths for r in json.loads(path.read_text())["rows"]]
    broken = sorted({r.item for r in rows if r.tokens == 0})
    if broken:
        print(f"left out (a run with no model output): {', '.join(broken)}")
    rows = [r for r in rows if r.item not in broken]
    for r in rows:
        r.correct = correct(r.value, items[r.item])
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N items")
    parser.add_argument("--items", default="", help="only these item ids, comma-separated")
    parser.add_argument(
        "--json",
        type=Path,
        help="write every row and the summary here, after each row; an existing file is "
        "resumed (its rows are kept and not run again)",
    )
    parser.add_argument("--plot", type=Path, help="write the plot here (PNG)")
    parser.add_argument(
        "--rescore",
        type=Path,
        nargs="+",
        help="re-score the rows of earlier --json files (merged), run nothing",
    )
    args = parser.parse_args()
    chosen = [i for i in suite() if not args.items or i.id in args.items.split(",")]
    if args.rescore:
        rows = rescored(args.rescore)
    else:
        rows = await run_all(chosen[: args.limit or None], save_to=args.json)
    summary = summarise(rows)
    print(f"\n{'condition':10} accuracy  conf-wrong  coverage  acc(answered)  tokens/q  escalated")
    for name, s in summary.items():
        print(
            f"{name:10} {s['accuracy']:8.2f}  {s['confident_wrong']:10.2f}  "
            f"{s['coverage']:8.2f}  {s['accuracy_answered']:13.2f}  "
            f"{s['tokens_per_question']:8.0f}  {s['escalated']:9.2f}"
        )
    if args.json:
        save(args.json, rows)
    if args.plot:
        plot(summary, args.plot)


if __name__ == "__main__":
    asyncio.run(main())
