"""Benchmark files: suites in, results out, both JSONL (see DESIGN.md).

A suite line is ``{"id", "question", ...}``; the runner reads only those two
fields and the scorer reads ``answer`` and ``tolerance``. A result line has
exactly `RESULT_FIELDS`. Results are appended one line per question and
flushed at once, so a killed benchmark loses at most the question in flight
and a re-run with the same ``--out`` picks up where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veritask.errors import UserError

RESULT_FIELDS = (
    "id",
    "status",
    "answer",
    "value",
    "confidence",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "latency_s",
    "run_id",
)
STATUSES = ("answered", "partial", "abstained", "failed")


@dataclass(frozen=True)
class Question:
    """One suite line. `gold` is the expected answer (None: unanswerable), when known."""

    id: str
    question: str
    gold: Any = None
    tolerance: float | None = None
    has_gold: bool = False
    kind: str = ""


def _read_jsonl(path: Path, what: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{what} {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise UserError(f"{what} {str(path)!r} is a directory; pass a .jsonl file") from None
    except UnicodeDecodeError:
        raise UserError(f"{what} {str(path)!r} is not UTF-8 text") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
        rows.append((n, row))
    return rows


def load_suite(path: str | Path) -> list[Question]:
    """The suite's questions in file order; a bad line is a UserError naming it."""
    path = Path(path)
    out: list[Question] = []
    seen: set[str] = set()
    for n, row in _read_jsonl(path, "suite"):
        qid, question = row.get("id"), row.get("question")
        if not isinstance(qid, str | int) or not isinstance(question, str) or not question.strip():
            raise UserError(f"{path}:{n}: a suite line needs a string `id` and a `question`")
        qid = str(qid)
        if qid in seen:
            raise UserError(f"{path}:{n}: duplicate id {qid!r}")
        seen.add(qid)
        tol = row.get("tolerance")
        out.append(
            Question(
                id=qid,
                question=question,
                gold=row.get("answer"),
                tolerance=float(tol) if isinstance(tol, int | float) else None,
                has_gold="answer" in row,
                kind=str(row.get("kind") or ""),
            )
        )
    return out


def load_results(path: str | Path, *, missing_ok: bool = False) -> dict[str, dict[str, Any]]:
    """Result lines by id; the last line wins when an id repeats.

    A truncated last line (the process was killed mid-write) is ignored, so
    that question simply runs again on resume.
    """
    path = Path(path)
    if missing_ok and not path.exists():
        return {}
    out: dict[str, dict[str, Any]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"results {str(path)!r} do not exist") from None
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            if n == len(lines):
                continue
            raise UserError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        if isinstance(row, dict) and "id" in row:
            out[str(row["id"])] = row
    return out


def result_line(**fields: Any) -> dict[str, Any]:
    """A result dict with exactly `RESULT_FIELDS`, in order (missing ones are None)."""
    unknown = set(fields) - set(RESULT_FIELDS)
    if unknown:
        raise ValueError(f"unknown result fields: {sorted(unknown)}")
    return {name: fields.get(name) for name in RESULT_FIELDS}


class ResultWriter:
    """Appends result lines to a JSONL file, one flushed line per question."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size:
            data = self.path.read_bytes()
            if not data.endswith(b"\n"):  # a line cut short by a kill: drop it, it runs again
                self.path.write_bytes(data[: data.rfind(b"\n") + 1])

    def write(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, ensure_ascii=False, default=str)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()

    def write_all(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.write(row)


__all__ = [
    "RESULT_FIELDS",
    "STATUSES",
    "Question",
    "ResultWriter",
    "load_results",
    "load_suite",
    "result_line",
]
