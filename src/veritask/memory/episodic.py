"""Episodic plan memory: the plans that answered well, found again by question shape.

After a run answers with high confidence (the caller picks the threshold),
`PlanMemory.remember` stores its question and plan. Before planning,
`PlanMemory.similar` returns the closest past episodes so the planner can show
them to the model as worked examples.

Both sides work on the *abstract* form (see `veritask.memory.abstraction`):
"What is the combined population of X and Y?" with ``country_facts("X")``.
That is what makes an example safe to show a small model (it has no entity to
copy) and what makes retrieval follow structure: the stored text has no
entity names, so "combined population" and "distance between" decide the
BM25 ranking, and the names in a new question simply match nothing.

Before planning, the pipeline may also *reuse* an episode outright: a new
question with the same abstract shape is planned by putting its own entities
into the abstract plan (`veritask.memory.recall`), with no model call. Each
reuse is counted (`hits`); a reuse whose run did not answer well demotes the
episode (`record_reuse`), and `similar(..., reusable_only=True)` no longer
offers it for reuse — it stays an example. A demoted episode is promoted
again when the planner, asked afresh, writes the same plan and it answers
well (`remember` bumps it): the plan is right, the failure was its input.

Storage is one SQLite file with an FTS5 index (porter stemming, so
"populations" finds "population"). WAL mode and a 30 s busy timeout let
several processes remember at once; `remember` takes the write lock before
it looks for a duplicate, so two processes storing the same episode bump one
row instead of inserting two. `similar` ranks inside SQLite and reads back
only `k` rows, so its memory does not grow with the table.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import re
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from veritask.errors import StoreError, UserError
from veritask.memory.abstraction import abstract
from veritask.plan.refs import REF_PATTERN
from veritask.store.sqlite import connect
from veritask.types import Plan, utcnow

DEFAULT_PATH = ".veritask/memory.db"
PATH_ENV = "VERITASK_MEMORY_PATH"
MAX_QUERY_TERMS = 64
"""A question longer than this is searched on its first 64 distinct terms."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    id                INTEGER PRIMARY KEY,
    key               TEXT NOT NULL UNIQUE,
    question          TEXT NOT NULL,
    abstract_question TEXT NOT NULL,
    plan              TEXT NOT NULL,
    abstract_plan     TEXT NOT NULL,
    confidence        REAL NOT NULL,
    run_id            TEXT NOT NULL DEFAULT '',
    created_at        TEXT NOT NULL,
    last_used_at      TEXT NOT NULL,
    uses              INTEGER NOT NULL DEFAULT 1
);
CREATE VIRTUAL TABLE IF NOT EXISTS episodes_fts USING fts5(
    abstract_question,
    content='episodes',
    content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS episode_reuse (
    key          TEXT PRIMARY KEY,
    hits         INTEGER NOT NULL DEFAULT 0,
    failures     INTEGER NOT NULL DEFAULT 0,
    demoted      INTEGER NOT NULL DEFAULT 0,
    last_run_id  TEXT NOT NULL DEFAULT '',
    reason       TEXT NOT NULL DEFAULT '',
    last_at      TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER IF NOT EXISTS episodes_ai AFTER INSERT ON episodes BEGIN
    INSERT INTO episodes_fts (rowid, abstract_question)
    VALUES (new.id, new.abstract_question);
END;
CREATE TRIGGER IF NOT EXISTS episodes_ad AFTER DELETE ON episodes BEGIN
    INSERT INTO episodes_fts (episodes_fts, rowid, abstract_question)
    VALUES ('delete', old.id, old.abstract_question);
END;
CREATE TRIGGER IF NOT EXISTS episodes_au AFTER UPDATE OF abstract_question ON episodes BEGIN
    INSERT INTO episodes_fts (episodes_fts, rowid, abstract_question)
    VALUES ('delete', old.id, old.abstract_question);
    INSERT INTO episodes_fts (rowid, abstract_question)
    VALUES (new.id, new.abstract_question);
END;
"""

_COLUMNS = (
    "e.question, e.abstract_question, e.plan, e.abstract_plan,"
    " e.confidence, e.run_id, e.created_at, e.uses,"
    " e.key, COALESCE(r.hits, 0), COALESCE(r.failures, 0), COALESCE(r.demoted, 0)"
)
_REUSE_JOIN = " LEFT JOIN episode_reuse r ON r.key = e.key"

# Words every question has; searching on them would make everything "similar".
_COMMON_WORDS = """a about an and are as at be by can could did do does for from give had has have
    how i in is it its me much my of on or please show tell than that the their them
    there these this those to us was we were what when where which who whom whose why
    will with would you your"""
_STOPWORDS = frozenset(_COMMON_WORDS.split())
_TERM = re.compile(r"\w+")


@dataclass(frozen=True)
class Episode:
    """One remembered question and the plan that answered it.

    `plan` is the concrete plan of the first run stored under this shape;
    `abstract_plan` is the form to show a planner model. `uses` counts how
    many runs stored the same shape; `score` is the BM25 relevance from
    `similar` (higher is closer; 0.0 from `list`). BM25 weighs words by how
    rare they are in the memory, so scores only compare episodes within one
    search: in a memory of a few episodes they are all tiny. `hits` counts the
    runs that reused the plan outright and answered well, `failures` those
    that did not; `demoted` means it is not reused until the planner writes
    it again.
    """

    question: str
    abstract_question: str
    plan: Plan
    abstract_plan: Plan
    confidence: float
    run_id: str
    created_at: datetime
    uses: int
    score: float = 0.0
    key: str = ""
    hits: int = 0
    failures: int = 0
    demoted: bool = False

    @property
    def tools(self) -> builtins.list[str]:
        """The tools the plan calls, in plan order: its shape at a glance."""
        return [t.tool for t in self.plan.tasks]


def default_memory_path() -> str:
    """`$VERITASK_MEMORY_PATH` if set, else `.veritask/memory.db` (relative to the cwd)."""
    return os.environ.get(PATH_ENV) or DEFAULT_PATH


class PlanMemory:
    """Past good plans in one SQLite file, searchable by question shape.

    Safe to share between threads (one connection behind a lock) and between
    processes (WAL, busy timeout, write transactions taken up front).
    """

    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = str(path)
        self._conn = connect(self.path, _SCHEMA, "plan memory")
        self._lock = threading.Lock()

    def remember(self, question: str, plan: Plan, *, confidence: float, run_id: str = "") -> bool:
        """Store a plan that answered `question` well; True if it was new.

        The same abstract question with the same plan shape is stored once:
        storing it again counts a use, keeps the highest confidence and the
        latest run id, and leaves the first example in place.
        """
        if not 0.0 <= confidence <= 1.0:
            raise UserError(f"confidence must be between 0 and 1, got {confidence}")
        abstract_question, abstract_plan, _ = abstract(question, plan)
        key = episode_key(abstract_question, abstract_plan)
        now = utcnow().isoformat()
        row = (
            key,
            question,
            abstract_question,
            plan.model_dump_json(),
            abstract_plan.model_dump_json(),
            confidence,
            run_id,
            now,
            now,
        )
        with self._lock:
            try:
                return self._remember_locked(row, key, confidence, run_id, now)
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise StoreError(f"cannot write plan memory {self.path}: {exc}") from exc

    def _remember_locked(
        self, row: tuple[Any, ...], key: str, confidence: float, run_id: str, now: str
    ) -> bool:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        bumped = conn.execute(
            "UPDATE episodes SET uses = uses + 1, confidence = MAX(confidence, ?),"
            " run_id = CASE WHEN ? != '' THEN ? ELSE run_id END, last_used_at = ?"
            " WHERE key = ?",
            (confidence, run_id, run_id, now, key),
        ).rowcount
        # The planner wrote this plan again and it answered well: reusable again.
        conn.execute("UPDATE episode_reuse SET demoted = 0 WHERE key = ?", (key,))
        if not bumped:
            conn.execute(
                "INSERT INTO episodes (key, question, abstract_question, plan, abstract_plan,"
                " confidence, run_id, created_at, last_used_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        conn.execute("COMMIT")
        return not bumped

    def similar(
        self, question: str, k: int = 3, *, reusable_only: bool = False
    ) -> builtins.list[Episode]:
        """The `k` past episodes whose abstract questions best match `question` (BM25).

        Any text is safe: the question is cut into words, each quoted as an
        FTS5 string, so `?`, quotes, `-`, `*`, `:` or `AND` are never query
        syntax. Common words ("what", "the") are dropped so they cannot make
        every episode match; an empty list means nothing shares a word.
        `reusable_only` leaves demoted episodes out (candidates for reuse).
        """
        match = fts_query(question)
        if not match or k <= 0:
            return []
        demoted = " AND COALESCE(r.demoted, 0) = 0" if reusable_only else ""
        sql = (
            f"SELECT {_COLUMNS}, bm25(episodes_fts) AS relevance FROM episodes_fts"
            f" JOIN episodes e ON e.id = episodes_fts.rowid{_REUSE_JOIN}"
            f" WHERE episodes_fts MATCH ?{demoted}"
            " ORDER BY relevance, e.uses DESC, e.confidence DESC, e.id DESC LIMIT ?"
        )
        rows = self._read(sql, (match, k))
        return [_episode(r[:-1], score=-float(r[-1])) for r in rows]

    def list(self, limit: int = 50) -> builtins.list[Episode]:
        """The most recently used episodes first."""
        sql = (
            f"SELECT {_COLUMNS} FROM episodes e{_REUSE_JOIN}"
            " ORDER BY MAX(e.last_used_at, COALESCE(r.last_at, '')) DESC, e.id DESC LIMIT ?"
        )
        return [_episode(r) for r in self._read(sql, (max(0, limit),))]

    def record_reuse(
        self, key: str, *, succeeded: bool, run_id: str = "", reason: str = ""
    ) -> None:
        """Count one run that reused episode `key` outright; demote it when it did not
        answer well (`reason` says why, for `veritask memory list --json`)."""
        now = utcnow().isoformat()
        hit, failure = (1, 0) if succeeded else (0, 1)
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute(
                    "INSERT INTO episode_reuse (key, hits, failures, demoted, last_run_id,"
                    " reason, last_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET hits = hits + excluded.hits,"
                    " failures = failures + excluded.failures,"
                    " demoted = MAX(demoted, excluded.demoted),"
                    " last_run_id = excluded.last_run_id,"
                    " reason = CASE WHEN excluded.reason != '' THEN excluded.reason"
                    " ELSE reason END, last_at = excluded.last_at",
                    (key, hit, failure, failure, run_id, reason, now),
                )
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise StoreError(f"cannot write plan memory {self.path}: {exc}") from exc

    def clear(self) -> int:
        """Forget every episode; returns how many were removed."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                removed = self._conn.execute("DELETE FROM episodes").rowcount
                self._conn.execute("DELETE FROM episode_reuse")
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise StoreError(f"cannot clear plan memory {self.path}: {exc}") from exc
        return int(removed)

    def __len__(self) -> int:
        rows = self._read("SELECT COUNT(*) FROM episodes", ())
        return int(rows[0][0])

    def _read(self, sql: str, params: tuple[Any, ...]) -> builtins.list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read plan memory {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> PlanMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PlanMemory({self.path!r})"


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression for `text`: its distinct non-common words, quoted, OR-ed.

    Single letters are dropped too: stored questions use them as placeholders
    (X, Y), so a stray "x" would otherwise match every episode. Returns ""
    when no word is left, so the caller can skip the query.
    """
    terms: dict[str, None] = {}
    for word in _TERM.findall(text.casefold()):
        if word in _STOPWORDS or not word.strip("_") or (len(word) == 1 and word.isalpha()):
            continue
        terms.setdefault(word, None)
        if len(terms) >= MAX_QUERY_TERMS:
            break
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def episode_key(abstract_question: str, abstract_plan: Plan) -> str:
    """The dedup key: normalised abstract question + plan shape.

    The shape is the tools, their arguments and the answer template with task
    ids renumbered by position, so the same plan written with other ids (or
    a different goal or description) is the same episode.
    """
    question = " ".join(abstract_question.casefold().split()).rstrip(" ?.!")
    return hashlib.sha256(
        json.dumps([question, plan_shape(abstract_plan)], sort_keys=True).encode()
    ).hexdigest()


def plan_shape(plan: Plan) -> builtins.list[Any]:
    """The parts of a plan that decide what it does, with ids replaced by positions."""
    number = {t.id: str(i) for i, t in enumerate(plan.tasks, start=1)}

    def renumber(value: Any) -> Any:
        if isinstance(value, str):
            return REF_PATTERN.sub(lambda m: f"${number.get(m[1], m[1])}{m[2]}", value)
        if isinstance(value, dict):
            return {k: renumber(v) for k, v in value.items()}
        if isinstance(value, builtins.list | tuple):
            return [renumber(v) for v in value]
        return value

    steps = [
        [t.tool, renumber(t.args), sorted(number.get(a, a) for a in t.after)] for t in plan.tasks
    ]
    return [steps, renumber(plan.answer_template)]


def _episode(row: tuple[Any, ...], score: float = 0.0) -> Episode:
    question, abstract_question, plan, abstract_plan, confidence, run_id, created, uses = row[:8]
    key, hits, failures, demoted = row[8:12]
    return Episode(
        question=question,
        abstract_question=abstract_question,
        plan=Plan.model_validate_json(plan),
        abstract_plan=Plan.model_validate_json(abstract_plan),
        confidence=float(confidence),
        run_id=run_id,
        created_at=datetime.fromisoformat(created),
        uses=int(uses),
        score=score,
        key=str(key),
        hits=int(hits),
        failures=int(failures),
        demoted=bool(demoted),
    )


__all__ = [
    "DEFAULT_PATH",
    "PATH_ENV",
    "Episode",
    "PlanMemory",
    "default_memory_path",
    "episode_key",
    "fts_query",
    "plan_shape",
]
