"""`kb_answer` alone on the pydoc suite: the quoted answer without a planner or a model.

An orchestrated run whose plan is ``kb_answer(question)`` answers exactly
what this script answers; what the planner adds is the choice of that plan
(or a refusal). This runs in seconds per question on a CPU, so it covers the
whole suite where a full model run may not, and isolates the span selection
and the confidence from the planner.

Writes a results JSONL in the `veritask bench` format (scored by `veritask
bench score`), and prints citation precision: the share of answered
questions whose quoted passage contains the gold span.

    .venv/bin/python benchmarks/kb_answer_only.py --kb-dir DIR --out RESULTS.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from veritask.bench.score import normalize_text, score
from veritask.bench.suite import load_results, load_suite, result_line
from veritask.memory.kb import KnowledgeBase
from veritask.memory.kb_answer import answer

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "bench" / "suites" / "pydoc.jsonl"


def _has(text: str, gold: str) -> bool:
    want = normalize_text(gold)
    return bool(want) and f" {want} " in f" {normalize_text(text)} "


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kb-dir", type=Path, required=True, help="Holds the ingested `pydoc` KB.")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--suite", type=Path, default=SUITE)
    args = ap.parse_args(argv)
    questions = load_suite(args.suite)
    precise = answered = 0
    with (
        KnowledgeBase("pydoc", directory=args.kb_dir, create=False) as kb,
        args.out.open("w", encoding="utf-8") as out,
    ):
        for q in questions:
            started = time.perf_counter()
            got = answer(kb, q.question, 5)
            latency = time.perf_counter() - started
            text = " ".join(got.text.split())
            row = result_line(
                id=q.id,
                status=got.status,
                answer=text if got.answered else got.searched(),
                value=None,
                confidence=round(got.confidence, 4),
                input_tokens=0,
                output_tokens=0,
                cost_usd=0.0,
                latency_s=round(latency, 3),
                run_id="",
            )
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            if got.answered and got.span is not None:
                answered += 1
                precise += isinstance(q.gold, str) and _has(got.span.passage.text, q.gold)
    scores = score(questions, load_results(args.out), label=args.out.stem)
    print(
        f"{scores.n} questions: coverage {scores.coverage:.3f}, selective accuracy "
        f"{scores.selective_accuracy:.3f}, confident-wrong {scores.confident_wrong}, "
        f"unanswerable abstained {scores.abstention_unanswerable:.3f}, citation precision "
        f"{precise / answered if answered else float('nan'):.3f} ({precise}/{answered}), "
        f"latency p50/p95 {scores.latency_p50_s:.2f}/{scores.latency_p95_s:.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
