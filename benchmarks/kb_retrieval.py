"""Recall@k of the knowledge-base retriever on the pydoc dev suite.

For every answerable question of ``bench/suites/pydoc.jsonl`` (the injection
question included: its retrieval is what the answer rests on), the retriever
(`KnowledgeBase.search`, BM25 + vectors fused by RRF) returns k passages.
A question is a **hit** when one of them is a passage of the gold topic —
or of a file with identical content, since ingest stores duplicates once
(``else`` and ``if`` are the same text) — whose text contains the gold
answer span (whitespace-insensitive). `topic@k` is the looser "a passage of
the gold topic is among the k"; MRR is over the strict hit.

    .venv/bin/python benchmarks/kb_retrieval.py [--k 5] [--json PATH] [--kb-dir DIR]

Without ``--kb-dir`` the corpus is written and ingested into a temporary
directory first (make_pydoc_corpus.py, default chunking); with it, the
``pydoc`` KB already there is searched as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "bench" / "suites" / "pydoc.jsonl"
sys.path.insert(0, str(ROOT / "bench" / "suites"))

from make_pydoc_corpus import write_corpus  # noqa: E402

from veritask.memory.kb import KnowledgeBase, Passage  # noqa: E402


def _flat(text: str) -> str:
    return " ".join(text.split())


def gold_rows(suite: Path = SUITE) -> list[dict[str, Any]]:
    """The suite's answerable questions (those with a gold topic and span)."""
    rows = [json.loads(x) for x in suite.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [r for r in rows if r.get("answerable")]


def is_gold(p: Passage, row: dict[str, Any], same_text: dict[str, str]) -> tuple[bool, bool]:
    """(strict hit, topic hit) of one passage for one question."""
    topic = same_text.get(Path(p.source).name) == same_text.get(row["source"])
    return topic and _flat(row["answer"]) in _flat(p.text), topic


def evaluate(kb: KnowledgeBase, corpus: Path, k: int, suite: Path = SUITE) -> dict[str, Any]:
    """Recall@k, topic@k, MRR and the misses for the suite's answerable questions."""
    same_text = {f.name: f.read_text(encoding="utf-8") for f in corpus.glob("*.txt")}
    rows = gold_rows(suite)
    hits, topics, rr, misses, times = 0, 0, 0.0, [], []
    for row in rows:
        started = time.perf_counter()
        passages = kb.search(row["question"], k)
        times.append(time.perf_counter() - started)
        marks = [is_gold(p, row, same_text) for p in passages]
        rank = next((i for i, (strict, _) in enumerate(marks, start=1) if strict), None)
        hits += rank is not None
        topics += any(t for _, t in marks)
        rr += 1.0 / rank if rank else 0.0
        if rank is None:
            misses.append(
                {
                    "id": row["id"],
                    "question": row["question"],
                    "gold": f"{row['source']}: {row['answer']}",
                    "got": [f"{Path(p.source).name} § {p.heading}" for p in passages],
                }
            )
    n = len(rows)
    times.sort()
    return {
        "k": k,
        "questions": n,
        f"recall@{k}": round(hits / n, 4),
        f"topic@{k}": round(topics / n, 4),
        "mrr": round(rr / n, 4),
        "search_p50_ms": round(1000 * times[n // 2], 1),
        "misses": misses,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--json", type=Path, help="Write every figure and the misses here.")
    ap.add_argument("--kb-dir", type=Path, help="Search the `pydoc` KB in this directory.")
    ap.add_argument("--corpus", type=Path, help="The corpus directory (with --kb-dir).")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus or Path(tmp) / "corpus"
        if args.kb_dir is None:
            write_corpus(corpus)
            kb = KnowledgeBase("pydoc", directory=Path(tmp) / "kb")
            kb.ingest([corpus])
        else:
            if args.corpus is None:
                write_corpus(corpus)
            kb = KnowledgeBase("pydoc", directory=args.kb_dir, create=False)
        with kb:
            result = evaluate(kb, corpus, args.k)
    result["chunking"] = {"max_chars": kb.max_chars, "min_chars": kb.min_chars}
    k = args.k
    print(
        f"recall@{k} {result[f'recall@{k}']:.3f}  topic@{k} {result[f'topic@{k}']:.3f}  "
        f"MRR {result['mrr']:.3f}  over {result['questions']} answerable questions"
    )
    for m in result["misses"]:
        print(f"  miss {m['id']}: {m['question']!r} gold {m['gold']!r}; got {m['got'][:3]}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
