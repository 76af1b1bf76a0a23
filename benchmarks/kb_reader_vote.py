"""Does a model's vote among the reader's best sentences carry information?

For the first N questions of the pydoc suite that `kb_answer` answers alone,
show the model the reader's best three candidate sentences in *score* order
(best first) and record which number it writes under the grammar
``"1" | "2" | "3"`` and with what probability. A model that reads picks "1"
mostly, with a high probability; a model that only has a position bias
picks "1" always, at about chance probability (1/3). That is what decides
whether `knowledge_toolkit(…, reader_model=…)` is worth turning on.

    python benchmarks/kb_reader_vote.py --kb-dir DIR --answered RESULTS.jsonl [--n 15]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from veritask.bench.suite import load_suite
from veritask.memory.kb import KnowledgeBase
from veritask.memory.kb_reader import candidates, model_choice, rank

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "bench" / "suites" / "pydoc.jsonl"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kb-dir", type=Path, required=True, help="Holds the ingested `pydoc` KB.")
    ap.add_argument("--answered", type=Path, required=True, help="kb_answer_only.py results.")
    ap.add_argument("--n", type=int, default=15)
    ap.add_argument("--model", default="local:smollm2-135m")
    args = ap.parse_args(argv)
    from veritask.models.registry import get_provider

    rows = [json.loads(x) for x in args.answered.read_text(encoding="utf-8").splitlines() if x]
    answered = {r["id"] for r in rows if r["status"] == "answered"}
    model = get_provider(args.model)
    picks: list[int] = []
    with KnowledgeBase("pydoc", directory=args.kb_dir, create=False) as kb:
        for q in load_suite(SUITE):
            if q.id not in answered:
                continue
            options = rank(candidates(q.question, kb.search(q.question, 5), kb.embedder))[:3]
            started = time.perf_counter()
            picked, prob = model_choice(q.question, options, model)
            number = options.index(picked) + 1 if picked is not None else 0
            picks.append(number)
            took = time.perf_counter() - started
            print(f"{q.id}: {number} p={prob:.2f} {took:.1f} s", flush=True)
            if len(picks) >= args.n:
                break
    print(f"picked the reader's best (shown first) {picks.count(1)} of {len(picks)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
