"""What a knowledge base costs: ingest throughput, query latency, memory, index size.

For the pydoc corpus (`make_pydoc_corpus.py`, ~80 topics) and for copies of
it N times larger, each measured in a fresh process (so peak RSS is that
corpus's alone):

- **ingest**: wall time of `KnowledgeBase.ingest` on the whole directory
  (chunking, embedding every chunk, SQLite + FTS5 writes), as MB/s of
  source text and chunks/s;
- **index size**: the KB's SQLite file (chunks, FTS5 index, vectors);
- **query latency** p50/p95 of `search` (BM25 + vectors + RRF, k=5) and of
  `kb_answer`'s span selection (search + scoring, no model), over the dev
  suite's questions, after one warm-up query (which loads the vectors into
  FAISS; its time is reported apart as `first_query_s`);
- **peak RSS** of the process (`ru_maxrss`), and the RSS before ingest (the
  interpreter, numpy, the embedder's weights) for reference.

A larger corpus repeats each topic with variations, so nothing is
de-duplicated or reuses a stored vector: copy *i* of a topic gets
"(variant i)" in its title line and its paragraphs in a shuffled order
(seeded by *i*), which changes every chunk's heading path and text.

    .venv/bin/python benchmarks/kb_scale.py [--scales 1,10] [--no-vectors] [--topics N]
        [--queries N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "bench" / "suites" / "pydoc.jsonl"


def write_scaled_corpus(directory: Path, scale: int, topics_n: int | None = None) -> list[Path]:
    """The pydoc topics (the first ``topics_n`` by name, or all), ``scale`` variants of
    each (variant 0 is the original text)."""
    from pydoc_data.topics import topics

    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in sorted(topics.items())[:topics_n]:
        for i in range(scale):
            path = directory / (f"{name}.txt" if i == 0 else f"{name}--v{i}.txt")
            path.write_text(text if i == 0 else vary(text, i), encoding="utf-8")
            out.append(path)
    return out


def vary(text: str, i: int) -> str:
    """Variant ``i`` of a topic: title marked, paragraphs after it shuffled (seeded by i)."""
    title, _, body = text.partition("\n")
    paragraphs = body.split("\n\n")
    random.Random(i).shuffle(paragraphs)
    return f"{title} (variant {i})\n" + "\n\n".join(paragraphs)


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo, hi = int(pos), min(int(pos) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _rss_mb() -> float:
    """Current resident set size in MB (Linux /proc; ru_maxrss elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """User + system CPU seconds of this process: on a shared machine, the figure that
    does not grow with other people's load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(
    scale: int, vectors: bool = True, topics_n: int | None = None, queries_n: int | None = None
) -> dict[str, Any]:
    """Build, ingest and query one corpus of ``scale`` × the topics (in this process).

    ``vectors=False``: BM25 only (no embedding at ingest or query), which
    isolates what chunking, SQLite and FTS5 cost from what the embedder costs.
    ``topics_n``: a base corpus of the first N topics — embedding costs about a
    CPU-second a chunk, so ×10 of the whole corpus with vectors is over an hour
    of CPU; a smaller base shows how the cost grows at ×1 and ×10 in minutes.
    ``queries_n``: time only the first N suite questions.
    """
    from veritask.embedding import default_embedder
    from veritask.memory.kb import KnowledgeBase
    from veritask.memory.kb_answer import answer

    questions = [
        json.loads(x)["question"] for x in SUITE.read_text(encoding="utf-8").splitlines() if x
    ][:queries_n]
    embedder = default_embedder() if vectors else None
    if embedder is not None:
        embedder.embed(["warm up the embedder"])  # load its weights before timing ingest
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        files = write_scaled_corpus(corpus, scale, topics_n)
        size = sum(f.stat().st_size for f in files)
        rss_before = _rss_mb()
        kb = KnowledgeBase(
            "pydoc", directory=Path(tmp) / "kb", embedder=embedder if embedder else False
        )
        started, cpu = time.perf_counter(), _cpu_s()
        report = kb.ingest([corpus])
        ingest_s = time.perf_counter() - started
        ingest_cpu_s = _cpu_s() - cpu
        started = time.perf_counter()
        kb.search(questions[0], 5)
        first_query_s = time.perf_counter() - started
        search, answering = [], []
        for q in questions:
            t0 = time.perf_counter()
            kb.search(q, 5)
            t1 = time.perf_counter()
            answer(kb, q, 5)
            answering.append(time.perf_counter() - t1)
            search.append(t1 - t0)
        chunks = report.chunks_indexed
        kb.close()  # the last connection checkpoints the WAL into the database file
        index_bytes = sum(
            p.stat().st_size for p in (Path(tmp) / "kb").glob("pydoc.db*") if p.is_file()
        )
    return {
        "scale": scale,
        "files": len(files),
        "source_mb": round(size / 1e6, 3),
        "chunks": chunks,
        "vectors_embedded": report.vectors_embedded,
        "skipped": len(report.skipped),
        "topics": len(files) // scale,
        "ingest_s": round(ingest_s, 2),
        "ingest_cpu_s": round(ingest_cpu_s, 2),
        "ingest_mb_per_s": round(size / 1e6 / ingest_s, 4),
        "ingest_chunks_per_s": round(chunks / ingest_s, 1),
        "index_mb": round(index_bytes / 1e6, 2),
        "index_bytes_per_source_byte": round(index_bytes / size, 2),
        "first_query_s": round(first_query_s, 3),
        "queries": len(questions),
        "search_p50_ms": round(1000 * _percentile(search, 50), 1),
        "search_p95_ms": round(1000 * _percentile(search, 95), 1),
        "kb_answer_p50_ms": round(1000 * _percentile(answering, 50), 1),
        "kb_answer_p95_ms": round(1000 * _percentile(answering, 95), 1),
        "rss_before_ingest_mb": round(rss_before, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "embedder": embedder.name if embedder is not None else "none (BM25 only)",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", default="1,10", help="Comma-separated corpus multiples.")
    ap.add_argument("--json", type=Path, help="Write every figure here.")
    ap.add_argument("--no-vectors", action="store_true", help="BM25 only: no embedder.")
    ap.add_argument("--topics", type=int, help="Base corpus: the first N topics (default all).")
    ap.add_argument("--queries", type=int, help="Time only the first N suite questions.")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one scale
    args = ap.parse_args(argv)
    if args.one is not None:
        row = measure(args.one, not args.no_vectors, args.topics, args.queries)
        sys.stdout.write(json.dumps(row) + "\n")
        return 0
    passed = [
        *(["--no-vectors"] if args.no_vectors else []),
        *(["--topics", str(args.topics)] if args.topics else []),
        *(["--queries", str(args.queries)] if args.queries else []),
    ]
    results = []
    for scale in (int(s) for s in args.scales.split(",") if s.strip()):
        got = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                str(scale),
                *passed,
            ],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ.copy(),
        )
        row = json.loads(got.stdout.strip().splitlines()[-1])
        results.append(row)
        print(
            f"×{scale}: {row['files']} files, {row['source_mb']} MB, {row['chunks']} chunks; "
            f"ingest {row['ingest_s']} s ({row['ingest_cpu_s']} CPU-s) = "
            f"{row['ingest_mb_per_s']} MB/s, "
            f"{row['ingest_chunks_per_s']} chunks/s; index {row['index_mb']} MB; "
            f"search p50/p95 {row['search_p50_ms']}/{row['search_p95_ms']} ms; "
            f"kb_answer p50/p95 {row['kb_answer_p50_ms']}/{row['kb_answer_p95_ms']} ms; "
            f"peak RSS {row['peak_rss_mb']} MB",
            flush=True,
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        machine = {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        }
        payload = {"machine": machine, "results": results}
        args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
