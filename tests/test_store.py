"""Run stores: gap-free sequence numbers, atomic appends, the runs() projection, URLs."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.services import fresh_pg_schema
from veritask import ConfigError, Orchestrator, Plan, Task
from veritask.store import MemoryRunStore, NewEvent, RunStore, SQLiteRunStore, open_store
from veritask.tools import ToolRegistry
from veritask.types import EventType, RunStatus

StoreFactory = Callable[[], RunStore]


@pytest.fixture(params=["sqlite", "memory", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens the store under test; for SQLite each call opens the same file anew, for
    PostgreSQL a new connection to a schema of this test's own (skipped without a server)."""
    opened: list[RunStore] = []
    memory = MemoryRunStore()
    with contextlib.ExitStack() as stack:
        pg_url = stack.enter_context(fresh_pg_schema()) if request.param == "postgres" else ""

        def factory() -> RunStore:
            store: RunStore
            if request.param == "sqlite":
                store = SQLiteRunStore(tmp_path / "runs.db")
            elif request.param == "postgres":
                store = open_store(pg_url)
            else:
                store = memory
            opened.append(store)
            return store

        yield factory
        for store in opened:
            store.close()


def ev(etype: EventType = EventType.TASK_STARTED, **data: object) -> NewEvent:
    return NewEvent(etype, dict(data))


def test_store_satisfies_the_protocol(make_store: StoreFactory) -> None:
    assert isinstance(make_store(), RunStore)


def test_seq_is_gap_free_from_one_across_appends(make_store: StoreFactory) -> None:
    store = make_store()
    first = store.append("r1", [ev(EventType.RUN_STARTED, goal="g"), ev(task_id="a")])
    second = store.append("r1", [ev(task_id="b")])
    third = store.append("r1", [ev(task_id=str(i)) for i in range(5)])
    assert [e.seq for e in first + second + third] == list(range(1, 9))
    assert [e.seq for e in store.events("r1")] == list(range(1, 9))
    assert [e.data.get("task_id") for e in store.events("r1", after_seq=6)] == ["3", "4"]
    assert all(e.run_id == "r1" for e in store.events("r1"))


def test_each_run_has_its_own_sequence(make_store: StoreFactory) -> None:
    store = make_store()
    store.append("r1", [ev(), ev()])
    assert [e.seq for e in store.append("r2", [ev()])] == [1]
    assert [e.seq for e in store.append("r1", [ev()])] == [3]


def test_events_round_trip_their_data(make_store: StoreFactory) -> None:
    store = make_store()
    data = {"task_id": "a", "nested": {"xs": [1, 2.5, None, "é"], "ok": True}}
    [written] = store.append("r1", [NewEvent(EventType.TASK_SUCCEEDED, data)])
    [read] = store.events("r1")
    assert read == written
    assert read.type is EventType.TASK_SUCCEEDED and read.data == data
    assert read.at.tzinfo is not None


def test_unknown_run_has_no_events(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.events("nope") == []
    assert not store.has_run("nope")
    assert store.append("r1", []) == []
    assert not store.has_run("r1")


def test_sqlite_seq_continues_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path)
    store.append("r1", [ev(EventType.RUN_STARTED, goal="g"), ev()])
    store.close()
    again = SQLiteRunStore(path)
    assert [e.seq for e in again.append("r1", [ev(), ev()])] == [3, 4]
    assert [e.seq for e in again.events("r1")] == [1, 2, 3, 4]
    assert again.has_run("r1")
    again.close()


def test_append_is_atomic(make_store: StoreFactory) -> None:
    """A batch that cannot be written leaves no trace, and the store keeps working."""
    store = make_store()
    broken = NewEvent("NotAnEventType", {})  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - any error, as long as nothing is written
        store.append("r1", [ev(EventType.RUN_STARTED, goal="g"), broken])
    assert store.events("r1") == []
    assert not store.has_run("r1")
    assert store.runs() == []
    assert [e.seq for e in store.append("r1", [ev(EventType.RUN_STARTED, goal="g")])] == [1]


def test_sqlite_append_is_atomic_for_unserialisable_data(tmp_path: Path) -> None:
    store = SQLiteRunStore(tmp_path / "runs.db")
    store.append("r1", [ev(EventType.RUN_STARTED, goal="g")])
    loop: dict[str, object] = {}
    loop["self"] = loop
    with pytest.raises(Exception):  # noqa: B017
        store.append("r1", [ev(task_id="a"), ev(task_id="b", value=loop)])
    assert [e.seq for e in store.events("r1")] == [1]
    assert [e.seq for e in store.append("r1", [ev(task_id="c")])] == [2]
    store.close()


def test_concurrent_writers_never_share_or_skip_a_seq(make_store: StoreFactory) -> None:
    stores = [make_store() for _ in range(3)]
    stores[0].append("r1", [ev(EventType.RUN_STARTED, goal="g")])

    def write(store: RunStore) -> None:
        for i in range(20):
            store.append("r1", [ev(i=i), ev(i=i)])

    threads = [threading.Thread(target=write, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [e.seq for e in stores[0].events("r1")]
    assert seqs == list(range(1, 2 + 3 * 20 * 2))


def test_seq_continues_after_reopen(make_store: StoreFactory) -> None:
    store = make_store()
    store.append("r1", [ev(EventType.RUN_STARTED, goal="g"), ev()])
    again = make_store()
    assert [e.seq for e in again.append("r1", [ev(), ev()])] == [3, 4]
    assert [e.seq for e in again.events("r1")] == [1, 2, 3, 4]
    assert again.has_run("r1")


# -- runs() projection ------------------------------------------------------------


def _plan(n: int) -> dict[str, object]:
    return {"tasks": [{"id": f"t{i}", "tool": "calc"} for i in range(n)]}


def test_runs_summary_follows_the_log(make_store: StoreFactory) -> None:
    store = make_store()
    store.append(
        "r1", [ev(EventType.RUN_STARTED, goal="first"), ev(EventType.PLAN_ACCEPTED, plan=_plan(3))]
    )
    [running] = store.runs()
    assert (running.run_id, running.status, running.goal) == ("r1", RunStatus.RUNNING, "first")
    assert (running.tasks, running.events, running.finished_at) == (3, 2, None)
    assert running.started_at is not None

    store.append("r1", [ev(EventType.RUN_INTERRUPTED, status="interrupted")])
    [interrupted] = store.runs()
    assert interrupted.status is RunStatus.INTERRUPTED and interrupted.finished_at is not None

    store.append("r1", [ev(EventType.RUN_RESUMED)])
    [resumed] = store.runs()
    assert resumed.status is RunStatus.RUNNING and resumed.finished_at is None

    store.append("r1", [ev(EventType.RUN_FINISHED, status="partial")])
    [done] = store.runs()
    assert done.status is RunStatus.PARTIAL and done.events == 5
    assert done.finished_at is not None and done.started_at is not None
    assert done.finished_at >= done.started_at


def test_runs_lists_newest_first_and_honours_limit(make_store: StoreFactory) -> None:
    store = make_store()
    for rid in ("a", "b", "c"):
        store.append(rid, [ev(EventType.RUN_STARTED, goal=rid)])
    assert [r.run_id for r in store.runs()] == ["c", "b", "a"]
    assert [r.run_id for r in store.runs(limit=2)] == ["c", "b"]


def test_runs_of_a_real_run(make_store: StoreFactory, registry: ToolRegistry) -> None:
    store = make_store()
    orch = Orchestrator(store=store, registry=registry)
    plan = Plan(
        goal="add",
        tasks=[
            Task(id="a", tool="calc", args={"expression": "1"}),
            Task(id="b", tool="calc", args={"expression": "$a + 1"}),
        ],
    )
    result = orch.execute(plan, run_id="run-1")
    [summary] = store.runs()
    assert summary.run_id == result.run_id == "run-1"
    assert summary.status is RunStatus.SUCCEEDED
    assert (summary.goal, summary.tasks) == ("add", 2)
    assert summary.events == len(store.events("run-1"))


# -- open_store -------------------------------------------------------------------


def test_open_store_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///rel/runs.db")
    assert isinstance(relative, SQLiteRunStore)
    relative.append("r", [ev(EventType.RUN_STARTED)])
    assert (tmp_path / "rel" / "runs.db").exists()

    absolute = open_store(f"sqlite:///{tmp_path}/abs.db")
    assert isinstance(absolute, SQLiteRunStore)
    assert absolute.url == f"sqlite:///{tmp_path}/abs.db"
    absolute.append("r", [ev(EventType.RUN_STARTED)])
    assert open_store(absolute.url).has_run("r")

    plain = open_store(tmp_path / "plain.db")
    assert isinstance(plain, SQLiteRunStore)
    plain.append("r", [ev(EventType.RUN_STARTED)])
    assert (tmp_path / "plain.db").exists()

    assert isinstance(open_store("memory://"), MemoryRunStore)
    in_memory = open_store("sqlite:///")
    assert isinstance(in_memory, SQLiteRunStore)
    assert in_memory.append("r", [ev()])[0].seq == 1
    for s in (relative, absolute, plain, in_memory):
        s.close()


def test_memory_stores_are_separate() -> None:
    one, two = open_store("memory://"), open_store("memory://")
    one.append("r", [ev()])
    assert not two.has_run("r")


@pytest.mark.parametrize("url", ["mysql://db/runs", "redis://localhost", "s3://bucket/x"])
def test_unknown_scheme_is_a_clear_config_error(url: str) -> None:
    scheme = url.split("://")[0]
    with pytest.raises(ConfigError, match=f"'{scheme}'") as info:
        open_store(url)
    assert "sqlite:///" in str(info.value) and "memory://" in str(info.value)


# -- PostgreSQL specifics -------------------------------------------------------


def test_open_store_accepts_postgresql_urls() -> None:
    from veritask.store.postgres import PostgresRunStore

    with fresh_pg_schema() as url:
        for form in (url, url.replace("postgresql://", "postgres://", 1)):
            store = open_store(form)
            assert isinstance(store, PostgresRunStore)
            assert store.url == form
            store.append("r", [ev(EventType.RUN_STARTED, goal="g")])
            assert store.has_run("r")
            store.close()


def test_postgres_wait_for_events_wakes_on_commit() -> None:
    """Live tailing: a waiter blocked in LISTEN returns as soon as another connection
    commits, with exactly the new events; a quiet run times out with []."""
    from veritask.store.postgres import PostgresRunStore

    with fresh_pg_schema() as url:
        reader, writer = PostgresRunStore(url), PostgresRunStore(url)
        writer.append("r1", [ev(EventType.RUN_STARTED, goal="g")])
        assert [e.seq for e in reader.wait_for_events("r1", 0, timeout=5)] == [1]
        assert reader.wait_for_events("r1", 1, timeout=0.2) == []

        got: list[int] = []

        def wait() -> None:
            got.extend(e.seq for e in reader.wait_for_events("r1", 1, timeout=10))

        waiter = threading.Thread(target=wait)
        waiter.start()
        import time

        time.sleep(0.3)
        writer.append("r2", [ev()])  # another run's commit does not wake it for good
        writer.append("r1", [ev(), ev()])
        waiter.join(timeout=10)
        assert got == [2, 3]
        reader.close()
        writer.close()


@pytest.mark.parametrize("url", ["foo:bar", "sqlite:/x.db", "sqlite:typo.db", "mysql://h/db"])
def test_store_urls_of_no_supported_form_are_refused_without_creating_files(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from veritask.errors import ConfigError
    from veritask.store import open_store

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"sqlite:///relative/runs\.db"):
        open_store(url)
    assert list(tmp_path.iterdir()) == []
