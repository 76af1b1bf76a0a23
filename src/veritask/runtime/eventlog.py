"""Buffered event writing with group commits.

Events are buffered and committed together: everything the scheduler learns
in one turn of its loop (tasks finished, tasks started) becomes one
transaction. The one rule that keeps crash safety: `flush()` before calling
a tool, so a `TaskStarted` is durable before the tool can have any effect.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from veritask.store.base import NewEvent, RunStore
from veritask.types import Event, EventType

EventListener = Callable[[Event], None]


class EventLog:
    """The write side of one run's log.

    `lease` is the driver's lease token: every flush carries it, so the store
    refuses the events (LeaseLost) of a driver that no longer holds the run.
    """

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        listeners: list[EventListener] | None = None,
        *,
        lease: str | None = None,
    ):
        self.store = store
        self.run_id = run_id
        self.lease = lease
        self._buffer: list[NewEvent] = []
        self._listeners = list(listeners or [])
        self.count = 0

    def emit(
        self, type: EventType, data: dict[str, Any] | None = None, encoded: str | None = None
    ) -> None:
        self._buffer.append(NewEvent(type, data or {}, encoded))

    def flush(self) -> list[Event]:
        if not self._buffer:
            return []
        batch, self._buffer = self._buffer, []
        stored = self.store.append(self.run_id, batch, lease=self.lease)
        self.count += len(stored)
        for event in stored:
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception as exc:
                    # A broken viewer must not break the run it watches; it stops listening.
                    self._listeners.remove(listener)
                    warnings.warn(
                        f"event listener {listener!r} raised {exc!r} and was removed",
                        RuntimeWarning,
                        stacklevel=2,
                    )
        return stored
