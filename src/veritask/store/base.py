"""The RunStore protocol: an append-only log of events per run.

A run's state is never stored directly; it is `fold(events)`. The store's job
is to make appends durable and ordered: `seq` is assigned by the store,
gap-free per run, inside the same transaction that writes the events.

One driver per run: a driver holds a *lease* on the run (a random token,
a readable holder, an expiry it keeps pushing forward with a heartbeat).
`append(..., lease=token)` checks the lease in the same transaction as the
insert, so a process that lost its lease (it stalled past the expiry, or
another driver took over) cannot add a single event and the log can never
contradict itself. A driver killed with SIGKILL needs no cleanup: its lease
simply expires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from veritask.errors import LeaseLost, RunLocked
from veritask.types import Event, EventType, RunSummary


@dataclass(frozen=True)
class Lease:
    """Who drives a run, and until when (seconds since the epoch, the stores' clock).

    Wall-clock time because drivers in different processes (or hosts) compare it.
    """

    run_id: str
    token: str
    """Random, unique per driver: the proof of ownership `append` checks."""
    holder: str
    """Readable description of the driver, e.g. `pid 1234 on host h (veritask resume r1)`."""
    expires_at: float

    def live(self, now: float) -> bool:
        """Whether the lease still excludes other drivers at `now`."""
        return self.expires_at > now


def check_acquire(run_id: str, current: Lease | None, token: str, now: float) -> None:
    """Raise RunLocked unless `token` may take the lease: none, expired, or already ours.

    Shared by the stores so they refuse with the same rule and the same message.
    """
    if current is not None and current.token != token and current.live(now):
        raise RunLocked(run_id, current.holder, current.expires_at - now)


def check_writer(run_id: str, current: Lease | None, token: str | None, now: float) -> None:
    """Raise unless a writer with `token` may append to `run_id` at `now`.

    With a token the writer must hold the live lease (else LeaseLost). Without
    one (tools outside a driver) it may write only while no driver holds a
    live lease (else RunLocked): nobody writes behind a driver's back.
    """
    if token is None:
        if current is not None and current.live(now):
            raise RunLocked(run_id, current.holder, current.expires_at - now)
        return
    if current is None or current.token != token:
        raise LeaseLost(run_id, "another driver took it over, or it was released")
    if not current.live(now):
        raise LeaseLost(run_id, f"it expired {now - current.expires_at:.1f} s ago")


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

    def append(
        self, run_id: str, events: Sequence[NewEvent], *, lease: str | None = None
    ) -> list[Event]:
        """Append `events` atomically (all or none), returning them with `seq` and `at`.

        `lease` is the writer's lease token: the append is refused (LeaseLost,
        nothing written) unless it holds the run's live lease. Without a token
        the append is refused (RunLocked) while any driver holds a live lease.
        """
        ...

    def acquire_lease(self, run_id: str, token: str, holder: str, ttl_s: float) -> Lease:
        """Take the run's lease for `ttl_s` seconds, atomically.

        Succeeds if there is no lease, it expired, or it is already `token`'s;
        otherwise raises RunLocked naming the holder and its remaining time.
        """
        ...

    def renew_lease(self, run_id: str, token: str, ttl_s: float) -> Lease:
        """Push a live lease held by `token` to now + `ttl_s`; LeaseLost if it is not ours
        or already expired (someone may have taken over since)."""
        ...

    def release_lease(self, run_id: str, token: str) -> None:
        """Give the lease up if `token` holds it (a no-op otherwise), so the next driver
        need not wait for the expiry."""
        ...

    def lease(self, run_id: str) -> Lease | None:
        """The run's lease as stored (possibly expired), or None."""
        ...

    def events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        """The run's events with seq > after_seq, in order. Empty for an unknown run."""
        ...

    def has_run(self, run_id: str) -> bool: ...

    def runs(self, limit: int = 50) -> list[RunSummary]:
        """Most recent runs first."""
        ...

    def close(self) -> None: ...
