"""SQLite RunStore: WAL mode, one transaction per append batch.

Crash safety comes from the transaction: a batch is either wholly in the
log or not at all, and the runtime commits a task's `TaskStarted` before it
calls the tool. `synchronous=NORMAL` under WAL keeps every commit atomic and
consistent across a process crash (SIGKILL); only a power loss can drop the
last commits, never corrupt the log.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from veritask.errors import StoreError
from veritask.store.base import Lease, NewEvent, check_acquire, check_writer
from veritask.types import Event, EventType, RunStatus, RunSummary, trusted, utcnow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    at     TEXT NOT NULL,
    type   TEXT NOT NULL,
    data   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    goal        TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    tasks       INTEGER NOT NULL DEFAULT 0,
    last_seq    INTEGER NOT NULL DEFAULT 0  -- unused: the events' primary key gives it
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
CREATE TABLE IF NOT EXISTS leases (
    run_id     TEXT PRIMARY KEY,
    token      TEXT NOT NULL,
    holder     TEXT NOT NULL,
    expires_at REAL NOT NULL  -- seconds since the epoch
) WITHOUT ROWID;
"""

_FINAL_STATUS = {EventType.RUN_FINISHED, EventType.RUN_INTERRUPTED}
_ENCODE = json.JSONEncoder(default=str).encode
"""`json.dumps(data, default=str)` without building an encoder for every event."""


def connect(path: str, schema: str, what: str) -> sqlite3.Connection:
    """Open `path` (creating its directory) in WAL mode and apply `schema`.

    Autocommit (`isolation_level=None`): callers group their writes in explicit
    transactions. `what` names the file in errors ("run store", "plan memory").
    """
    if path != ":memory:":
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the directory for {path}: {exc}") from exc
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {what} {path}: {exc}{_hint(exc)}") from exc
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(schema)
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot open {what} {path}: {exc}{_hint(exc)}") from exc
    return conn


def _hint(exc: sqlite3.Error) -> str:
    """What to do about the usual reasons a store cannot be opened."""
    text = str(exc).lower()
    if "not a database" in text or "malformed" in text:
        return (
            " (the file is damaged or is not a veritask store: move it aside, or pass "
            "--store with another file)"
        )
    if "readonly" in text or "unable to open" in text:
        return (
            " (the store must be writable: check the permissions of the file and its "
            "directory, or pass --store with another file)"
        )
    return ""


class SQLiteRunStore:
    """RunStore on one SQLite file (or `:memory:`).

    `clock` (seconds since the epoch) decides lease expiry; tests inject one.
    """

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        self._conn = connect(self.path, _SCHEMA, "run store")
        self._lock = threading.Lock()
        self._clock = clock

    def append(
        self, run_id: str, events: Sequence[NewEvent], *, lease: str | None = None
    ) -> list[Event]:
        """Append all of `events` or none; refused unless `lease` holds the live lease.

        The lease check is one primary-key lookup inside the append's own
        BEGIN IMMEDIATE transaction, so no other writer can slip in between.
        """
        if not events:
            return []
        now = utcnow()
        # Serialise before the transaction: data that cannot be stored fails here, untouched.
        payload = [
            (
                ev.type if type(ev.type) is EventType else EventType(ev.type),
                ev.encoded or _ENCODE(ev.data),
            )
            for ev in events
        ]
        with self._lock:
            try:
                return self._append_locked(run_id, events, payload, now, lease)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot append to run {run_id} in {self.path}: {exc}") from exc
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")

    def _append_locked(
        self,
        run_id: str,
        events: Sequence[NewEvent],
        payload: list[tuple[EventType, str]],
        now: datetime,
        lease: str | None,
    ) -> list[Event]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        check_writer(run_id, self._lease_row(run_id), lease, self._clock())
        # The primary key (run_id, seq) makes this an index lookup, not a scan.
        (last,) = conn.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = ?", (run_id,)
        ).fetchone()
        at = now.isoformat()
        if last == 0:
            goal = str(events[0].data.get("goal", ""))
            conn.execute(
                "INSERT OR IGNORE INTO runs (run_id, goal, status, started_at) VALUES (?, ?, ?, ?)",
                (run_id, goal, RunStatus.RUNNING.value, at),
            )
        stored = []
        rows = []
        for i, (ev, (etype, data)) in enumerate(zip(events, payload, strict=True), start=last + 1):
            stored.append(trusted(Event, run_id=run_id, seq=i, at=now, type=etype, data=ev.data))
            rows.append((run_id, i, at, etype.value, data))
        conn.executemany(
            "INSERT INTO events (run_id, seq, at, type, data) VALUES (?, ?, ?, ?, ?)", rows
        )
        if any(not ev.type.value.startswith("Task") for ev in events):
            self._project(run_id, events, at)
        conn.execute("COMMIT")
        return stored

    def _project(self, run_id: str, events: Sequence[NewEvent], at: str) -> None:
        """Keep the `runs` summary row in step with the log (same transaction)."""
        status: str | None = None
        finished: str | None = None
        tasks: int | None = None
        for ev in events:
            if ev.type == EventType.PLAN_ACCEPTED:
                tasks = len(ev.data.get("plan", {}).get("tasks", []))
            elif ev.type in _FINAL_STATUS:
                status = str(ev.data.get("status", RunStatus.INTERRUPTED.value))
                finished = at
            elif ev.type in (EventType.RUN_RESUMED, EventType.RUN_STARTED):
                status, finished = RunStatus.RUNNING.value, None
        self._conn.execute(
            "UPDATE runs SET status = COALESCE(?, status),"
            " finished_at = CASE WHEN ? IS NOT NULL THEN ? WHEN ? = 'running' THEN NULL"
            " ELSE finished_at END, tasks = COALESCE(?, tasks) WHERE run_id = ?",
            (status, finished, finished, status, tasks, run_id),
        )

    # -- leases: one driver per run ------------------------------------------

    def _lease_row(self, run_id: str) -> Lease | None:
        row = self._conn.execute(
            "SELECT token, holder, expires_at FROM leases WHERE run_id = ?", (run_id,)
        ).fetchone()
        return None if row is None else Lease(run_id, row[0], row[1], row[2])

    def _in_write(self, run_id: str, what: str, body: Callable[[], Lease | None]) -> Lease | None:
        """Run `body` in one BEGIN IMMEDIATE transaction (writers across processes serialise)."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                result = body()
                self._conn.execute("COMMIT")
                return result
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot {what} the lease of run {run_id} in {self.path}: {exc}"
                ) from exc
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")

    def _put_lease(self, lease: Lease) -> Lease:
        self._conn.execute(
            "INSERT OR REPLACE INTO leases (run_id, token, holder, expires_at) VALUES (?, ?, ?, ?)",
            (lease.run_id, lease.token, lease.holder, lease.expires_at),
        )
        return lease

    def acquire_lease(self, run_id: str, token: str, holder: str, ttl_s: float) -> Lease:
        """Take the lease if free, expired or ours; RunLocked otherwise."""

        def take() -> Lease:
            now = self._clock()
            check_acquire(run_id, self._lease_row(run_id), token, now)
            return self._put_lease(Lease(run_id, token, holder, now + ttl_s))

        taken = self._in_write(run_id, "take", take)
        assert taken is not None
        return taken

    def renew_lease(self, run_id: str, token: str, ttl_s: float) -> Lease:
        """Extend our live lease; LeaseLost if it expired or is someone else's."""

        def renew() -> Lease:
            now = self._clock()
            current = self._lease_row(run_id)
            check_writer(run_id, current, token, now)
            assert current is not None
            return self._put_lease(Lease(run_id, token, current.holder, now + ttl_s))

        renewed = self._in_write(run_id, "renew", renew)
        assert renewed is not None
        return renewed

    def release_lease(self, run_id: str, token: str) -> None:
        """Drop the lease if `token` holds it."""

        def release() -> None:
            self._conn.execute("DELETE FROM leases WHERE run_id = ? AND token = ?", (run_id, token))

        self._in_write(run_id, "release", release)

    def lease(self, run_id: str) -> Lease | None:
        """The stored lease, live or expired."""
        with self._lock:
            try:
                return self._lease_row(run_id)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the lease of run {run_id}: {exc}") from exc

    def events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        with self._lock:
            try:
                rows = self._conn.execute(
                    "SELECT seq, at, type, data FROM events"
                    " WHERE run_id = ? AND seq > ? ORDER BY seq",
                    (run_id, after_seq),
                ).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read run {run_id} from {self.path}: {exc}") from exc
        return [
            Event(
                run_id=run_id,
                seq=seq,
                at=datetime.fromisoformat(at),
                type=EventType(etype),
                data=json.loads(data),
            )
            for seq, at, etype, data in rows
        ]

    def has_run(self, run_id: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return row is not None

    def runs(self, limit: int = 50) -> list[RunSummary]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT run_id, status, goal, started_at, finished_at, tasks,"
                " (SELECT COALESCE(MAX(seq), 0) FROM events e WHERE e.run_id = runs.run_id)"
                " FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            RunSummary(
                run_id=r[0],
                status=RunStatus(r[1]),
                goal=r[2],
                started_at=datetime.fromisoformat(r[3]),
                finished_at=datetime.fromisoformat(r[4]) if r[4] else None,
                tasks=r[5],
                events=r[6],
            )
            for r in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteRunStore({self.path!r})"
