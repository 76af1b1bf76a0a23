"""In-process RunStore: the same contract as SQLite, nothing on disk.

For tests and for runs whose durability does not matter (`memory://`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from veritask.store.base import NewEvent
from veritask.types import Event, EventType, RunStatus, RunSummary, trusted, utcnow


class MemoryRunStore:
    """RunStore kept in a dict; lost when the process ends."""

    url = "memory://"

    def __init__(self) -> None:
        self._events: dict[str, list[Event]] = {}
        self._lock = threading.Lock()

    def append(self, run_id: str, events: Sequence[NewEvent]) -> list[Event]:
        if not events:
            return []
        now = utcnow()
        with self._lock:
            log = self._events.get(run_id, [])
            start = len(log) + 1
            # Build (and so validate) every event before touching the log: all or nothing.
            stored = [
                trusted(
                    Event,
                    run_id=run_id,
                    seq=start + i,
                    at=now,
                    type=EventType(ev.type),
                    data=ev.data,
                )
                for i, ev in enumerate(events)
            ]
            self._events.setdefault(run_id, log).extend(stored)
        return stored

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
