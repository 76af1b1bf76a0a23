"""Write CPython's pydoc topics (`pydoc_data.topics`) as one text file per topic.

    python bench/suites/make_pydoc_corpus.py CORPUS_DIR
    veritask ingest CORPUS_DIR --kb pydoc
    veritask bench bench/suites/pydoc.jsonl --kb pydoc --out results.jsonl

Why: a documents suite needs a corpus every machine has, with fixed text;
the pydoc topics ship with the interpreter. Each line of pydoc.jsonl names
its topic (`source`) and an answer span copied from that topic's text.
"""

from __future__ import annotations

import sys
from pathlib import Path
from pydoc_data.topics import topics


def write_corpus(directory: str | Path) -> list[Path]:
    """One ``TOPIC.txt`` per pydoc topic under ``directory``; returns the files written."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in sorted(topics.items()):
        path = root / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        out.append(path)
    return out


if __name__ == "__main__":
    written = write_corpus(sys.argv[1] if len(sys.argv) > 1 else "pydoc-corpus")
    print(f"wrote {len(written)} topics", file=sys.stderr)
