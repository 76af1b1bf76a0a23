"""One driver per run: the store's lease (acquire, renew, release, expiry, guarded
appends) and the runtime holding it — a second driver is refused, a driver that
lost its lease stops without writing or calling anything more."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.services import fresh_pg_schema
from veritask import Orchestrator, Plan, Task
from veritask.errors import LeaseLost, RunLocked, StoreError, UserError
from veritask.runtime.executor import Runtime
from veritask.store import MemoryRunStore, NewEvent, RunStore, SQLiteRunStore
from veritask.tools import ToolRegistry
from veritask.types import EventType, RunStatus


class Clock:
    """A settable clock (seconds since the epoch) for the stores' lease expiry."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


StoreFactory = Callable[[], RunStore]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "memory", "postgres"])
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> Iterator[StoreFactory]:
    """Opens the store under test; for SQLite and PostgreSQL each call is a new
    connection to one database (as another process would have). PostgreSQL gets a
    schema of this test's own and is skipped without a server."""
    opened: list[RunStore] = []
    memory = MemoryRunStore(clock=clock)
    with contextlib.ExitStack() as stack:
        pg_url = stack.enter_context(fresh_pg_schema()) if request.param == "postgres" else ""

        def factory() -> RunStore:
            store: RunStore
            if request.param == "sqlite":
                store = SQLiteRunStore(tmp_path / "runs.db", clock=clock)
            elif request.param == "postgres":
                from veritask.store.postgres import PostgresRunStore

                store = PostgresRunStore(pg_url, clock=clock)
            else:
                store = memory
            opened.append(store)
            return store

        yield factory
        for store in opened:
            store.close()


def ev(etype: EventType = EventType.TASK_STARTED, **data: object) -> NewEvent:
    return NewEvent(etype, dict(data))


# -- the store -----------------------------------------------------------------


def test_acquire_is_exclusive_until_the_lease_expires(
    make_store: StoreFactory, clock: Clock
) -> None:
    a, b = make_store(), make_store()
    taken = a.acquire_lease("r", "tok-a", "pid 1 on host h (veritask resume r)", 10)
    assert (taken.token, taken.expires_at) == ("tok-a", clock.now + 10)
    holder = "pid 1 on host h (veritask resume r)"
    assert a.acquire_lease("r", "tok-a", holder, 10).token == "tok-a"  # ours: re-entrant

    clock.now += 6
    with pytest.raises(RunLocked) as refused:
        b.acquire_lease("r", "tok-b", "pid 2", 10)
    message = str(refused.value)
    assert "run r is being driven by pid 1 on host h (veritask resume r)" in message
    assert "lease expires in 4 s" in message
    assert isinstance(refused.value, UserError)
    assert b.acquire_lease("other-run", "tok-b", "pid 2", 10).token == "tok-b"

    clock.now += 5  # past the expiry: a dead driver's lease just runs out
    assert b.acquire_lease("r", "tok-b", "pid 2", 10).token == "tok-b"
    lease = a.lease("r")
    assert lease is not None and (lease.token, lease.holder) == ("tok-b", "pid 2")
    with pytest.raises(LeaseLost):
        a.renew_lease("r", "tok-a", 10)


def test_renew_pushes_the_expiry_and_release_frees_the_run(
    make_store: StoreFactory, clock: Clock
) -> None:
    a, b = make_store(), make_store()
    a.acquire_lease("r", "tok-a", "A", 10)
    clock.now += 8
    assert a.renew_lease("r", "tok-a", 10).expires_at == clock.now + 10
    clock.now += 8  # 16 s after acquiring, 8 after renewing: still A's
    with pytest.raises(RunLocked):
        b.acquire_lease("r", "tok-b", "B", 10)

    b.release_lease("r", "tok-b")  # not B's: a no-op
    with pytest.raises(RunLocked):
        b.acquire_lease("r", "tok-b", "B", 10)
    a.release_lease("r", "tok-a")
    assert a.lease("r") is None
    assert b.acquire_lease("r", "tok-b", "B", 10).token == "tok-b"


def test_renewing_an_expired_lease_fails_even_if_nobody_took_it(
    make_store: StoreFactory, clock: Clock
) -> None:
    store = make_store()
    store.acquire_lease("r", "tok-a", "A", 10)
    clock.now += 11
    with pytest.raises(LeaseLost, match="expired"):
        store.renew_lease("r", "tok-a", 10)
    with pytest.raises(LeaseLost):
        store.renew_lease("never-leased", "tok-a", 10)


def test_append_with_a_stale_token_is_rejected_and_writes_nothing(
    make_store: StoreFactory, clock: Clock
) -> None:
    a, b = make_store(), make_store()
    a.acquire_lease("r", "tok-a", "A", 10)
    a.append("r", [ev(EventType.RUN_STARTED, goal="g"), ev(task_id="t")], lease="tok-a")
    before = a.events("r")
    runs_before = a.runs()

    clock.now += 11
    with pytest.raises(LeaseLost, match="expired") as lost:
        a.append(
            "r", [ev(task_id="u"), ev(EventType.RUN_FINISHED, status="succeeded")], lease="tok-a"
        )
    assert isinstance(lost.value, StoreError)
    b.acquire_lease("r", "tok-b", "B", 10)
    with pytest.raises(LeaseLost, match="took it over"):
        a.append("r", [ev(EventType.RUN_FINISHED, status="succeeded")], lease="tok-a")
    with pytest.raises(LeaseLost):
        a.append("r", [ev(task_id="v")], lease="tok-never")

    assert a.events("r") == before == b.events("r")
    assert a.runs() == runs_before
    assert [e.seq for e in b.append("r", [ev(task_id="w")], lease="tok-b")] == [3]


def test_append_without_a_token_is_refused_while_a_driver_holds_the_run(
    make_store: StoreFactory, clock: Clock
) -> None:
    store = make_store()
    store.append("r", [ev(EventType.RUN_STARTED, goal="g")])  # nobody drives it: allowed
    store.acquire_lease("r", "tok-a", "pid 7 (exec)", 10)
    with pytest.raises(RunLocked, match="pid 7"):
        store.append("r", [ev(task_id="t")])
    clock.now += 11
    store.append("r", [ev(task_id="t")])
    assert [e.seq for e in store.events("r")] == [1, 2]


# -- the runtime -----------------------------------------------------------------


def _gated(registry: ToolRegistry, gate: asyncio.Event, calls: list[str]) -> None:
    @registry.tool(name="gated_once")
    async def gated_once(name: str, after: str = "") -> str:
        calls.append(name)
        try:
            await gate.wait()
        except asyncio.CancelledError:
            calls.append(f"{name}:cancelled")
            raise
        return name


async def _until(predicate: Callable[[], bool]) -> None:
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


PLAN = Plan(
    tasks=[
        Task(id="a", tool="gated_once", args={"name": "a"}),
        Task(id="b", tool="gated_once", args={"name": "b", "after": "$a"}),
    ]
)


async def test_a_second_driver_is_refused_while_the_first_runs(
    registry: ToolRegistry, store_url: str
) -> None:
    gate, calls = asyncio.Event(), list[str]()
    _gated(registry, gate, calls)
    first = Orchestrator(store=store_url, registry=registry)
    run = asyncio.create_task(first.aexecute(PLAN, run_id="r"))
    await _until(lambda: calls == ["a"])

    second = Orchestrator(store=store_url, registry=registry)
    with pytest.raises(RunLocked, match=r"run r is being driven by pid \d+ on host .* expires in"):
        await second.aresume("r")
    with pytest.raises(RunLocked):
        await second.aexecute(PLAN, run_id="r")

    gate.set()
    result = await run
    assert result.status is RunStatus.SUCCEEDED
    assert calls == ["a", "b"]
    assert first.store.lease("r") is None  # released at the end
    events = first.store.events("r")
    assert [e.type for e in events].count(EventType.RUN_FINISHED) == 1
    assert (await second.aresume("r")).status is RunStatus.SUCCEEDED  # finished: nothing to do
    assert first.store.events("r") == events


async def test_the_lease_is_released_when_the_run_is_cancelled_or_fails(
    registry: ToolRegistry, store_url: str
) -> None:
    gate, calls = asyncio.Event(), list[str]()
    _gated(registry, gate, calls)
    orch = Orchestrator(store=store_url, registry=registry)
    run = asyncio.create_task(orch.aexecute(PLAN, run_id="r"))
    await _until(lambda: calls == ["a"])
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert orch.store.lease("r") is None
    with pytest.raises(UserError, match="already exists"):
        await orch.aexecute(PLAN, run_id="r")
    assert orch.store.lease("r") is None

    gate.set()
    resumed = await Orchestrator(store=store_url, registry=registry).aresume("r")
    assert resumed.outcomes["a"].status.value == "unknown"  # started, not idempotent
    assert orch.store.lease("r") is None


async def test_a_driver_that_lost_its_lease_stops_without_writing_or_calling(
    registry: ToolRegistry, tmp_path: Path
) -> None:
    """The driver stalls past its expiry (the store's clock jumps) and another takes the
    run: the heartbeat's renewal is refused, the driver cancels its tool calls, starts
    no new one, writes nothing more, and ends with LeaseLost."""
    import time

    skew = [0.0]
    store = SQLiteRunStore(tmp_path / "runs.db", clock=lambda: time.time() + skew[0])
    gate, calls = asyncio.Event(), list[str]()
    _gated(registry, gate, calls)
    # A TTL long enough that a loaded machine never misses a renewal before the skew
    # (0.3 s failed at load 15); the skew, not the TTL, ends the lease here.
    runtime = Runtime(store=store, registry=registry, lease_ttl_s=3.0)
    run = asyncio.create_task(runtime.aexecute(PLAN, run_id="r"))
    await _until(lambda: calls == ["a"])
    before = store.events("r")

    skew[0] = 1000.0
    store.acquire_lease("r", "other", "pid 2 on host h (veritask resume r)", 60)
    with pytest.raises(LeaseLost, match="lost the lease on run r"):
        await run
    assert calls == ["a", "a:cancelled"]  # b never started
    assert store.events("r") == before  # not even RunInterrupted got in
    lease = store.lease("r")
    assert lease is not None and lease.token == "other"  # ours was not the one released
    assert asyncio.current_task() is not None
    store.close()
