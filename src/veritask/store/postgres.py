"""PostgreSQL RunStore: the same append-only log as SQLite, for many hosts.

Why PostgreSQL: drivers and workers on several machines share one log, and
`veritask runs/show` read it from anywhere. The contract is exactly SQLite's
(see `store/base.py`); what differs is how it is enforced:

* **Gap-free `seq` and atomic leases.** Every write (append, acquire, renew,
  release) runs in one transaction that first takes a per-run transaction
  advisory lock (`pg_advisory_xact_lock` on a hash of the run id). That is
  SQLite's `BEGIN IMMEDIATE`, but per run: writers of one run serialise,
  writers of different runs do not wait for each other. Under that lock the
  next `seq` is `runs.last_seq + 1`, the lease check sees the committed lease,
  and no acquire can slip in between a driver's check and its commit.
* **Group commits.** One `append` call is one transaction, however many events.
* **Live tailing.** An append `NOTIFY`s the channel `veritask_events` with
  `run_id:last_seq` inside its transaction (so it is sent only on commit);
  `wait_for_events` LISTENs for it.
* **Clock.** Lease expiry uses the injected `clock` (wall time of the caller,
  like SQLite), so the two stores behave identically under test clocks. Hosts
  sharing a run must keep their clocks in sync (NTP) — skew eats into the TTL.

The schema is created on first use (guarded by an advisory lock so that two
processes opening a fresh database at once do not race). A `schema=NAME`
query parameter in the URL puts the tables in that schema (created if
missing) — tests use a fresh schema each, deployments may share a database.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from veritask.errors import ConfigError, StoreError
from veritask.store.base import Lease, NewEvent, check_acquire, check_writer
from veritask.types import Event, EventType, RunStatus, RunSummary, trusted, utcnow

try:  # an optional dependency: the `distributed` extra
    import psycopg
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

CHANNEL = "veritask_events"
"""NOTIFY channel; the payload is `run_id:last_seq`."""
_SCHEMA_LOCK = 0x7665726974  # "verit": serialises CREATE TABLE IF NOT EXISTS across processes

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    goal        TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    tasks       INTEGER NOT NULL DEFAULT 0,
    last_seq    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    at     TIMESTAMPTZ NOT NULL,
    type   TEXT NOT NULL,
    data   TEXT NOT NULL,  -- JSON as written (TEXT, not JSONB: byte-for-byte like SQLite)
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS leases (
    run_id     TEXT PRIMARY KEY,
    token      TEXT NOT NULL,
    holder     TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL  -- seconds since the epoch
);
"""

_FINAL_STATUS = {EventType.RUN_FINISHED, EventType.RUN_INTERRUPTED}


def split_url(url: str) -> tuple[str, str | None]:
    """(libpq connection URL, schema) from `postgresql://…[?schema=NAME]`."""
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme in ("postgres", "postgresql") else parts.scheme
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    if schema is not None and not schema.replace("_", "").isalnum():
        raise ConfigError(f"schema name {schema!r} must be letters, digits and underscores")
    return urlunsplit((scheme, parts.netloc, parts.path, rest, parts.fragment)), schema


class PostgresRunStore:
    """RunStore on a PostgreSQL database (psycopg 3), one connection per store.

    The connection is shared by the caller's threads under a lock (the lease
    heartbeat renews from a thread), like the SQLite store's.
    """

    def __init__(self, url: str, clock: Callable[[], float] = time.time) -> None:
        if psycopg is None:
            raise ConfigError(
                "a postgresql:// store needs psycopg: pip install 'veritask[distributed]'"
            )
        self.url = url
        self._conninfo, self.schema = split_url(url)
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self._conn = psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to run store {self._safe_url()}: {exc}") from exc
        try:
            self._setup(self._conn)
        except psycopg.Error as exc:
            self._conn.close()
            raise StoreError(f"cannot create the schema in {self._safe_url()}: {exc}") from exc

    def _safe_url(self) -> str:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit((parts.scheme, host + port, parts.path, parts.query, ""))

    def _setup(self, conn: Any) -> None:
        # Timestamps come back in UTC whatever the server's zone: like SQLite's ISO strings.
        conn.execute("SET TIME ZONE 'UTC'")
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            if self.schema is not None:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        if self.schema is not None:
            conn.execute(f'SET search_path TO "{self.schema}"')
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(_SCHEMA)

    @contextmanager
    def _write(self, run_id: str, what: str) -> Iterator[Any]:
        """One transaction holding `run_id`'s advisory lock: the per-run BEGIN IMMEDIATE."""
        with self._lock:
            try:
                with self._conn.transaction():
                    self._conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (run_id,)
                    )
                    yield self._conn
            except psycopg.Error as exc:
                where = self._safe_url()
                raise StoreError(f"cannot {what} run {run_id} in {where}: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any], what: str) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._conn.execute(sql, params).fetchall())
            except psycopg.Error as exc:
                raise StoreError(f"cannot {what} in {self._safe_url()}: {exc}") from exc

    # -- the log ----------------------------------------------------------------

    def append(
        self, run_id: str, events: Sequence[NewEvent], *, lease: str | None = None
    ) -> list[Event]:
        """Append all of `events` or none; refused unless `lease` holds the live lease.

        Lease check, seq assignment, inserts, the `runs` projection and the
        NOTIFY share one transaction under the run's advisory lock.
        """
        if not events:
            return []
        now = utcnow()
        payload = [
            (EventType(ev.type), ev.encoded or json.dumps(ev.data, default=str)) for ev in events
        ]
        with self._write(run_id, "append to") as conn:
            # One round trip reads the lease and the last seq (the advisory lock is held:
            # nothing can change either before we commit).
            row = conn.execute(
                "SELECT l.token, l.holder, l.expires_at,"
                " (SELECT last_seq FROM runs WHERE run_id = %s)"
                " FROM (SELECT 1) AS one LEFT JOIN leases l ON l.run_id = %s",
                (run_id, run_id),
            ).fetchone()
            current = None if row[0] is None else Lease(run_id, row[0], row[1], row[2])
            check_writer(run_id, current, lease, self._clock())
            last = row[3] or 0
            stored = []
            rows = []
            for i, (ev, (etype, data)) in enumerate(
                zip(events, payload, strict=True), start=last + 1
            ):
                stored.append(
                    trusted(Event, run_id=run_id, seq=i, at=now, type=etype, data=ev.data)
                )
                rows.append((run_id, i, now, etype.value, data))
            new_last = last + len(rows)
            # The writes go out pipelined: one network round trip, errors still raised here.
            with conn.pipeline():
                if row[3] is None:
                    conn.execute(
                        "INSERT INTO runs (run_id, goal, status, started_at)"
                        " VALUES (%s, %s, %s, %s)",
                        (run_id, str(events[0].data.get("goal", "")), RunStatus.RUNNING.value, now),
                    )
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO events (run_id, seq, at, type, data)"
                        " VALUES (%s, %s, %s, %s, %s)",
                        rows,
                    )
                self._project(conn, run_id, events, now, new_last)
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{run_id}:{new_last}"))
        return stored

    @staticmethod
    def _project(
        conn: Any, run_id: str, events: Sequence[NewEvent], at: datetime, last: int
    ) -> None:
        """Keep the `runs` summary row in step with the log (same transaction)."""
        status: str | None = None
        finished: datetime | None = None
        tasks: int | None = None
        for ev in events:
            if ev.type == EventType.PLAN_ACCEPTED:
                tasks = len(ev.data.get("plan", {}).get("tasks", []))
            elif ev.type in _FINAL_STATUS:
                status = str(ev.data.get("status", RunStatus.INTERRUPTED.value))
                finished = at
            elif ev.type in (EventType.RUN_RESUMED, EventType.RUN_STARTED):
                status, finished = RunStatus.RUNNING.value, None
        conn.execute(
            "UPDATE runs SET last_seq = %s, status = COALESCE(%s, status),"
            " finished_at = CASE WHEN %s::timestamptz IS NOT NULL THEN %s::timestamptz"
            " WHEN %s::text = 'running' THEN NULL ELSE finished_at END,"
            " tasks = COALESCE(%s, tasks) WHERE run_id = %s",
            (last, status, finished, finished, status, tasks, run_id),
        )

    def events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        rows = self._read(
            "SELECT seq, at, type, data FROM events WHERE run_id = %s AND seq > %s ORDER BY seq",
            (run_id, after_seq),
            f"read run {run_id}",
        )
        return [
            Event(run_id=run_id, seq=seq, at=at, type=EventType(etype), data=json.loads(data))
            for seq, at, etype, data in rows
        ]

    def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> list[Event]:
        """Events of `run_id` after `after_seq`, waiting up to `timeout` s for the first.

        Live tailing without polling: LISTEN on a connection of its own, then
        read; a commit's NOTIFY wakes us. Returns [] if nothing came in time.
        """
        found = self.events(run_id, after_seq)
        if found or timeout <= 0:
            return found
        deadline = time.monotonic() + timeout
        try:
            with psycopg.connect(self._conninfo, autocommit=True) as listener:
                listener.execute(f"LISTEN {CHANNEL}")
                found = self.events(run_id, after_seq)  # anything committed before LISTEN
                while not found:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return []
                    for note in listener.notifies(timeout=left, stop_after=1):
                        rid, _, seq = note.payload.rpartition(":")
                        if rid == run_id and int(seq) > after_seq:
                            found = self.events(run_id, after_seq)
        except psycopg.Error as exc:
            raise StoreError(f"cannot listen for run {run_id}: {exc}") from exc
        return found

    def has_run(self, run_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM runs WHERE run_id = %s", (run_id,), "read runs"))

    def runs(self, limit: int = 50) -> list[RunSummary]:
        rows = self._read(
            "SELECT run_id, status, goal, started_at, finished_at, tasks, last_seq"
            " FROM runs ORDER BY started_at DESC, run_id DESC LIMIT %s",
            (limit,),
            "list runs",
        )
        return [
            RunSummary(
                run_id=r[0],
                status=RunStatus(r[1]),
                goal=r[2],
                started_at=r[3],
                finished_at=r[4],
                tasks=r[5],
                events=r[6],
            )
            for r in rows
        ]

    # -- leases: one driver per run ----------------------------------------------

    def _lease_row(self, run_id: str) -> Lease | None:
        row = self._conn.execute(
            "SELECT token, holder, expires_at FROM leases WHERE run_id = %s", (run_id,)
        ).fetchone()
        return None if row is None else Lease(run_id, row[0], row[1], row[2])

    def _put_lease(self, lease: Lease) -> Lease:
        self._conn.execute(
            "INSERT INTO leases (run_id, token, holder, expires_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (run_id) DO UPDATE SET token = EXCLUDED.token,"
            " holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at",
            (lease.run_id, lease.token, lease.holder, lease.expires_at),
        )
        return lease

    def acquire_lease(self, run_id: str, token: str, holder: str, ttl_s: float) -> Lease:
        """Take the lease if free, expired or ours; RunLocked otherwise."""
        with self._write(run_id, "take the lease of"):
            now = self._clock()
            check_acquire(run_id, self._lease_row(run_id), token, now)
            return self._put_lease(Lease(run_id, token, holder, now + ttl_s))

    def renew_lease(self, run_id: str, token: str, ttl_s: float) -> Lease:
        """Extend our live lease; LeaseLost if it expired or is someone else's."""
        with self._write(run_id, "renew the lease of"):
            now = self._clock()
            current = self._lease_row(run_id)
            check_writer(run_id, current, token, now)
            assert current is not None
            return self._put_lease(Lease(run_id, token, current.holder, now + ttl_s))

    def release_lease(self, run_id: str, token: str) -> None:
        """Drop the lease if `token` holds it."""
        with self._write(run_id, "release the lease of") as conn:
            conn.execute("DELETE FROM leases WHERE run_id = %s AND token = %s", (run_id, token))

    def lease(self, run_id: str) -> Lease | None:
        """The stored lease, live or expired."""
        rows = self._read(
            "SELECT token, holder, expires_at FROM leases WHERE run_id = %s",
            (run_id,),
            f"read the lease of run {run_id}",
        )
        return None if not rows else Lease(run_id, rows[0][0], rows[0][1], rows[0][2])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"PostgresRunStore({self._safe_url()!r})"
