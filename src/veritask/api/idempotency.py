"""Idempotency-Key → run id, so a client that retries `POST /v1/runs` gets the same run.

With a SQLite run store the mapping lives in a small table of the same file
(`api_idempotency`), so it survives a server restart. With any other store
it lives in memory: a restart forgets the keys (noted in the README).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Protocol

from veritask.store import RunStore, SQLiteRunStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_idempotency (
    key          TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    created_at   REAL NOT NULL
) WITHOUT ROWID;
"""


class IdempotencyKeys(Protocol):
    """Remembers which run a key started, and what the request looked like."""

    def claim(self, key: str, run_id: str, fingerprint: str) -> tuple[str, str] | None:
        """Bind `key` to `run_id` if it is new (returns None); else the bound
        (run_id, fingerprint). Atomic, so two racing requests start one run."""
        ...


class MemoryKeys:
    """Keys in a dict: for in-memory and non-SQLite stores; lost on restart."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def claim(self, key: str, run_id: str, fingerprint: str) -> tuple[str, str] | None:
        with self._lock:
            if key in self._keys:
                return self._keys[key]
            self._keys[key] = (run_id, fingerprint)
            return None


class SQLiteKeys:
    """Keys in the run store's SQLite file, beside the events they point to."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def claim(self, key: str, run_id: str, fingerprint: str) -> tuple[str, str] | None:
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO api_idempotency (key, run_id, fingerprint, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (key, run_id, fingerprint, time.time()),
            )
            if cur.rowcount == 1:
                return None
            row = self._db.execute(
                "SELECT run_id, fingerprint FROM api_idempotency WHERE key = ?", (key,)
            ).fetchone()
            return (str(row[0]), str(row[1]))

    def close(self) -> None:
        self._db.close()


def keys_for(store: RunStore) -> IdempotencyKeys:
    """A persistent mapping for a SQLite file store, an in-memory one otherwise."""
    if isinstance(store, SQLiteRunStore) and store.path != ":memory:":
        return SQLiteKeys(str(store.path))
    return MemoryKeys()
