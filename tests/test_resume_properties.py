"""Property: a run cut off after any durable batch of events resumes correctly.

Each random plan runs once to completion; then every prefix of its log that ends
on a commit boundary is copied into a fresh store, as if the process had been
killed right after that commit, and resumed. Whatever the cut point: no task
with a terminal event runs again, an interrupted idempotent task re-runs, an
interrupted non-idempotent task is `unknown` (and its dependents skipped), and
every value is right.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.dags import Dag, dags, node_task
from veritask import Orchestrator, Plan
from veritask.store import MemoryRunStore, NewEvent
from veritask.tools import ToolRegistry
from veritask.types import TERMINAL_TASK_EVENTS, Event, EventType, OutcomeStatus


def registry(calls: Counter[str]) -> ToolRegistry:
    reg = ToolRegistry()

    async def node(name: str, inputs: list[int]) -> int:
        calls[name] += 1
        return int(name[1:]) + sum(inputs)

    reg.tool(name="node", idempotent=True)(node)
    reg.tool(name="once")(node)
    return reg


def commit_boundaries(events: list[Event]) -> list[int]:
    """Prefix lengths that end a batch (one store append shares one timestamp)."""
    cuts = [k for k in range(1, len(events)) if events[k].at != events[k - 1].at]
    return [*cuts, len(events)]


def downstream(dag: Dag, roots: set[int]) -> set[int]:
    out = set(roots)
    for i in range(dag.size):  # ids are topologically ordered
        if dag.deps(i) & out:
            out.add(i)
    return out - roots


@st.composite
def cases(draw: st.DrawFn) -> tuple[Dag, Plan, int]:
    dag = draw(dags(max_size=8))
    tasks = []
    for i in range(dag.size):
        tool = draw(st.sampled_from(["node", "node", "once"]))
        tasks.append(node_task(dag, i).model_copy(update={"tool": tool}))
    plan = Plan(tasks=[tasks[i] for i in dag.order])
    return dag, plan, draw(st.integers(1, 3))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), data=st.data())
def test_resume_from_any_commit_boundary(case: tuple[Dag, Plan, int], data: st.DataObject) -> None:
    dag, plan, concurrency = case
    calls: Counter[str] = Counter()
    reg = registry(calls)
    first = Orchestrator(store="memory://", registry=reg, concurrency=concurrency)
    run_id = first.execute(plan).run_id
    events = first.store.events(run_id)

    cut = data.draw(st.sampled_from(commit_boundaries(events)), label="cut after event")
    prefix = events[:cut]
    store = MemoryRunStore()
    store.append(run_id, [NewEvent(e.type, e.data) for e in prefix])

    terminal = {e.data["task_id"] for e in prefix if e.type in TERMINAL_TASK_EVENTS}
    started = {e.data["task_id"] for e in prefix if e.type == EventType.TASK_STARTED}
    interrupted = started - terminal
    once = {t.id for t in plan.tasks if t.tool == "once"}
    unknown = {int(tid[1:]) for tid in interrupted & once}
    blocked = downstream(dag, unknown)

    calls.clear()
    result = Orchestrator(store=store, registry=reg, concurrency=concurrency).resume(run_id)

    expected = dag.expected()
    for i in range(dag.size):
        tid = f"t{i}"
        outcome = result.outcomes[tid]
        if tid in terminal:
            assert calls[tid] == 0, f"{tid} ran again after its terminal event"
        elif i in unknown:
            assert outcome.status is OutcomeStatus.UNKNOWN and calls[tid] == 0
        elif i in blocked:
            assert outcome.status is OutcomeStatus.SKIPPED and calls[tid] == 0
        else:
            assert calls[tid] == 1, (tid, calls)
        if i not in unknown and i not in blocked:
            assert outcome.status is OutcomeStatus.SUCCEEDED
            assert outcome.value == expected[i]

    after = store.events(run_id)
    assert [e.seq for e in after] == list(range(1, len(after) + 1))
    assert after[-1].type == EventType.RUN_FINISHED
    if cut < len(events):
        assert after[cut].type == EventType.RUN_RESUMED
