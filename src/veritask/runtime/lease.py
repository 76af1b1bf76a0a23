"""Holding a run's lease while driving it: acquire, heartbeat, release.

One driver per run. Before its first event a driver (execute, resume, a
question) takes the run's lease in the store; a daemon thread renews it every
ttl/3 (a thread, not an asyncio task, so a sync tool blocking the event loop
cannot starve the heartbeat); the lease is released at the end, also on an
error, a cancel or Ctrl-C. A driver killed outright leaves its lease to
expire. If a renewal fails (the process stalled past the expiry and another
driver took over), the driver's task is cancelled: it starts no more tool
calls, and the store refuses its events anyway, so it ends with LeaseLost.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from veritask.errors import LeaseLost, StoreError
from veritask.store.base import Lease, RunStore

DEFAULT_LEASE_TTL_S = 15.0
HOLDER_MAX = 160
"""Characters of the holder description kept (the command line can be long)."""


def describe_holder() -> str:
    """This process as another driver's refusal names it: pid, host and command line."""
    argv = sys.argv or ["python"]
    program = "python -c" if argv[0] == "-c" else Path(argv[0]).name or "python"
    command = " ".join([program, *argv[1:]])
    if len(command) > HOLDER_MAX:
        command = command[: HOLDER_MAX - 1] + "…"
    return f"pid {os.getpid()} on host {socket.gethostname()} ({command})"


class RunLease:
    """One driver's lease on one run: a fresh token, renewed by a heartbeat thread.

    `lost` is set (and `on_lost` called, from the heartbeat thread) when a
    renewal is refused or the store stayed unreachable until the expiry.
    """

    def __init__(
        self, store: RunStore, run_id: str, ttl_s: float, holder: str | None = None
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"lease ttl must be positive, got {ttl_s}")
        self.store = store
        self.run_id = run_id
        self.ttl_s = ttl_s
        self.holder = holder or describe_holder()
        self.token = secrets.token_hex(16)
        self.lost: LeaseLost | None = None
        self._expires_local = 0.0
        self._stop = threading.Event()
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None

    def acquire(self) -> Lease:
        """Take the lease; RunLocked (naming the holder) if another live driver has it."""
        started = time.monotonic()
        lease = self.store.acquire_lease(self.run_id, self.token, self.holder, self.ttl_s)
        self._expires_local = started + self.ttl_s
        return lease

    def start_heartbeat(self, on_lost: Callable[[LeaseLost], None]) -> None:
        """Renew every ttl/3 in a daemon thread until `release`; `on_lost` if it cannot."""
        self._thread = threading.Thread(
            target=self._beat,
            args=(on_lost,),
            name=f"veritask-lease:{self.run_id}",
            daemon=True,
        )
        self._thread.start()

    def _beat(self, on_lost: Callable[[LeaseLost], None]) -> None:
        interval = self.ttl_s / 3
        while not self._stop.wait(interval):
            with self._mutex:
                if self._stop.is_set():
                    return
                started = time.monotonic()
                try:
                    self.store.renew_lease(self.run_id, self.token, self.ttl_s)
                except LeaseLost as exc:
                    self.lost = exc
                except StoreError as exc:
                    # Transient (a locked or busy store): try again until the lease runs out.
                    if time.monotonic() < self._expires_local:
                        continue
                    self.lost = LeaseLost(self.run_id, f"it could not be renewed in time: {exc}")
                else:
                    self._expires_local = started + self.ttl_s
                    continue
                on_lost(self.lost)
                return

    def release(self) -> None:
        """Stop the heartbeat and give the lease up (token-guarded: a lease another
        driver took over is left alone); a failure only leaves it to expire."""
        with self._mutex:
            self._stop.set()
        with suppress(StoreError):  # the lease expires on its own within ttl
            self.store.release_lease(self.run_id, self.token)


@asynccontextmanager
async def hold_lease(
    store: RunStore, run_id: str, ttl_s: float, holder: str | None = None
) -> AsyncIterator[RunLease]:
    """Hold `run_id`'s lease for the body of the `async with`, heartbeat included.

    Raises RunLocked at entry if another driver holds it. If the lease is lost
    midway, the current task is cancelled and the body's exit becomes
    LeaseLost, however the body reacted to the cancel.
    """
    lease = RunLease(store, run_id, ttl_s, holder)
    lease.acquire()
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    inside = True
    cancelled = False

    def cancel_driver() -> None:  # on the loop's thread
        nonlocal cancelled
        if inside and task is not None and not cancelled:
            cancelled = True
            task.cancel()

    def on_lost(_: LeaseLost) -> None:  # on the heartbeat thread
        with suppress(RuntimeError):  # a closed loop: the driver is gone already
            loop.call_soon_threadsafe(cancel_driver)

    lease.start_heartbeat(on_lost)
    try:
        yield lease
    except (asyncio.CancelledError, LeaseLost) as exc:
        if lease.lost is None or isinstance(exc, LeaseLost):
            raise
        raise lease.lost from exc
    finally:
        inside = False
        if cancelled and task is not None:
            task.uncancel()  # our cancel is answered by LeaseLost, not left pending
        lease.release()


__all__ = ["DEFAULT_LEASE_TTL_S", "RunLease", "describe_holder", "hold_lease"]
