"""In-process RunStore: the same contract as SQLite, nothing on disk.

For tests and for runs whose durability does not matter (`memory://`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from veritask.store.base import Lease, NewEvent, check_acquire, check_writer
from veritask.types import Event, EventType, RunStatus, RunSummary, trusted, utcnow


class MemoryRunStore:
    """RunStore kept in a dict; lost when the process ends.

    `clock` (seconds since the epoch) decides lease expiry; tests inject one.
    """

    url = "memory://"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._events: dict[str, list[Event]] = {}
        self._leases: dict[str, Lease] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def append(
        self, run_id: str, events: Sequence[NewEvent], *, lease: str | None = None
    ) -> list[Event]:
        """Append all of `events` or none; refused unless `lease` holds the live lease."""
        if not events:
            return []
        now = utcnow()
        with self._lock:
            check_writer(run_id, self._leases.get(run_id), lease, self._clock())
            log = self._events.get(run_id, [])
            start = len(log) + 1
            # Build (and so validate) every event before touching the log: all or nothing.
            stored = [
                trusted(
                    Event,
                    run_id=run_id,
                    seq=start + i,
                    at=now,
                    type=ev.type if type(ev.type) is EventType else EventType(ev.type),
                    data=ev.data,
                )
                for i, ev in enumerate(events)
            ]
            self._events.setdefault(run_id, log).extend(stored)
        return stored

    def acquire_lease(self, run_id: str, token: str, holder: str, ttl_s: float) -> Lease:
        """Take the lease if free, expired or ours; RunLocked otherwise."""
        with self._lock:
            now = self._clock()
            check_acquire(run_id, self._leases.get(run_id), token, now)
            taken = Lease(run_id, token, holder, now + ttl_s)
            self._leases[run_id] = taken
            return taken

    def renew_lease(self, run_id: str, token: str, ttl_s: float) -> Lease:
        """Extend our live lease; LeaseLost if it expired or is someone else's."""
        with self._lock:
            now = self._clock()
            current = self._leases.get(run_id)
            check_writer(run_id, current, token, now)
            assert current is not None
            renewed = replace(current, expires_at=now + ttl_s)
            self._leases[run_id] = renewed
            return renewed

    def release_lease(self, run_id: str, token: str) -> None:
        """Drop the lease if `token` holds it."""
        with self._lock:
            current = self._leases.get(run_id)
            if current is not None and current.token == token:
                del self._leases[run_id]

    def lease(self, run_id: str) -> Lease | None:
        """The stored lease, live or expired."""
        with self._lock:
            return self._leases.get(run_id)

    def events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        with self._lock:
            return list(self._events.get(run_id, [])[after_seq:])

    def has_run(self, run_id: str) -> bool:
        return run_id in self._events

    def runs(self, limit: int = 50) -> list[RunSummary]:
        with self._lock:
            logs = list(self._events.items())
        out = [_summarise(run_id, log) for run_id, log in logs if log]
        out.sort(key=lambda s: (s.started_at, s.run_id), reverse=True)
        return out[:limit]

    def close(self) -> None:
        pass


def _summarise(run_id: str, log: list[Event]) -> RunSummary:
    status = RunStatus.RUNNING
    finished = None
    tasks = 0
    for ev in log:
        if ev.type == EventType.PLAN_ACCEPTED:
            tasks = len(ev.data.get("plan", {}).get("tasks", []))
        elif ev.type in (EventType.RUN_FINISHED, EventType.RUN_INTERRUPTED):
            status = RunStatus(ev.data.get("status", RunStatus.INTERRUPTED.value))
            finished = ev.at
        elif ev.type == EventType.RUN_RESUMED:
            status, finished = RunStatus.RUNNING, None
    return RunSummary(
        run_id=run_id,
        status=status,
        goal=str(log[0].data.get("goal", "")),
        started_at=log[0].at,
        finished_at=finished,
        tasks=tasks,
        events=len(log),
    )
