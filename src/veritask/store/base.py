"""The RunStore protocol: an append-only log of events per run.

A run's state is never stored directly; it is `fold(events)`. The store's job
is to make appends durable and ordered: `seq` is assigned by the store,
gap-free per run, inside the same transaction that writes the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from veritask.types import Event, EventType, RunSummary


@dataclass(frozen=True)
class NewEvent:
    """An event before the store has given it a sequence number."""

    type: EventType
    data: dict[str, Any] = field(default_factory=dict)
    encoded: str | None = None
    """`data` already serialised as JSON, when the writer has it (saves a second dump)."""


@runtime_checkable
class RunStore(Protocol):
    """Durable, append-only event storage.

    Calls are synchronous: an embedded SQLite append takes tens of
    microseconds, less than a hop to a thread would.
    """

    url: str

    def append(self, run_id: str, events: Sequence[NewEvent]) -> list[Event]:
        """Append `events` atomically (all or none), returning them with `seq` and `at`."""
        ...

    def events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        """The run's events with seq > after_seq, in order. Empty for an unknown run."""
        ...

    def has_run(self, run_id: str) -> bool: ...

    def runs(self, limit: int = 50) -> list[RunSummary]:
        """Most recent runs first."""
        ...

    def close(self) -> None: ...
