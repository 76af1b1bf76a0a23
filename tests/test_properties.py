"""Property tests: random DAGs run in dependency order, random faults are all reported,
and folding a run's events is the same in one batch or in any number of pieces."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.dags import Dag, dags, node_task
from veritask import Orchestrator, Plan, Task, ToolError
from veritask.plan.validation import validate_plan
from veritask.runtime.scheduler import RuntimeOptions
from veritask.runtime.state import RunState, fold
from veritask.tools import ToolRegistry
from veritask.types import Backoff, OutcomeStatus, Policy, RunStatus

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def plan_of(dag: Dag) -> Plan:
    tasks = [node_task(dag, i) for i in range(dag.size)]
    return Plan(goal="random dag", tasks=[tasks[i] for i in dag.order])


@dataclass
class Recorder:
    log: list[tuple[str, str]] = field(default_factory=list)
    active: int = 0
    most_active: int = 0

    def registry(self) -> ToolRegistry:
        reg = ToolRegistry()

        @reg.tool
        async def node(name: str, inputs: list[int], mode: str = "ok") -> int:
            self.log.append(("start", name))
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            await asyncio.sleep(0)
            self.active -= 1
            attempt = sum(1 for kind, n in self.log if kind == "start" and n == name)
            self.log.append(("finish", name))
            if mode == "fail" or (mode == "flaky" and attempt < 2):
                raise ToolError(f"{name} failed ({mode})", retryable=mode != "fail")
            if mode == "crash":
                raise RuntimeError(f"{name} has a bug")
            return int(name[1:]) + sum(inputs)

        return reg


async def _no_sleep(delay: float) -> None:
    return None


def orchestrator(reg: ToolRegistry, concurrency: int) -> Orchestrator:
    options = RuntimeOptions(sleep=_no_sleep, rand=lambda: 0.5)
    return Orchestrator(store="memory://", registry=reg, options=options, concurrency=concurrency)


# -- (a) valid random DAGs -------------------------------------------------------


@SETTINGS
@given(dag=dags(), concurrency=st.integers(1, 4))
def test_random_dags_validate_and_run_in_dependency_order(dag: Dag, concurrency: int) -> None:
    recorder = Recorder()
    reg = recorder.registry()
    plan = plan_of(dag)
    assert validate_plan(plan, reg) == []

    result = orchestrator(reg, concurrency).execute(plan)

    assert result.status is RunStatus.SUCCEEDED
    expected = dag.expected()
    assert {tid: o.value for tid, o in result.outcomes.items()} == {
        f"t{i}": expected[i] for i in range(dag.size)
    }
    assert result.value == expected[dag.order[-1]]
    position = {entry: k for k, entry in enumerate(recorder.log)}
    assert len(position) == 2 * dag.size  # every task started and finished exactly once
    assert recorder.most_active <= concurrency
    for i in range(dag.size):
        for j in dag.deps(i):
            assert position[("finish", f"t{j}")] < position[("start", f"t{i}")], (i, j)


# -- (b) random faults are all reported -------------------------------------------

FAULTS = ["duplicate_id", "unknown_tool", "missing_ref", "bad_args", "cycle", "duplicate_step"]


@st.composite
def bad_args(draw: st.DrawFn, args: dict[str, Any]) -> dict[str, Any]:
    """`args` with a wrong type, a missing argument or an argument the tool does not take."""
    args = dict(args)
    how = draw(st.sampled_from(["wrong_type", "missing", "extra"]))
    if how == "wrong_type":
        args["name"] = draw(st.sampled_from([123, ["x"], {"k": 1}, None]))
    elif how == "missing":
        del args["name"]
    else:
        args["colour"] = "blue"
    return args


@st.composite
def faulty_plans(draw: st.DrawFn) -> tuple[Plan, list[tuple[str, Any]]]:
    """A valid DAG with some faults injected, each on its own task; and what to expect."""
    dag = draw(dags(min_size=6, max_size=10))
    faults = draw(st.lists(st.sampled_from(FAULTS), min_size=1, unique=True))
    picks = draw(st.permutations(range(dag.size)))
    src, unknown, bad, missing, ci, cj = picks[:6]
    ci, cj = sorted((ci, cj))
    tasks = [node_task(dag, i) for i in range(dag.size)]
    extra: list[Task] = []
    expect: list[tuple[str, Any]] = []

    def patch(i: int, **changes: Any) -> None:
        tasks[i] = tasks[i].model_copy(update=changes)

    if "duplicate_id" in faults:
        clash = tasks[src].args | {"name": "clash"}
        extra.append(Task(id=f"t{src}", tool="node", args=clash))
        expect.append(("duplicate_id", f"t{src}"))
    if "duplicate_step" in faults:
        extra.append(Task(id="copy", tool="node", args=tasks[src].args))
    if "unknown_tool" in faults:
        patch(unknown, tool="no_such_tool")
        expect.append(("unknown_tool", f"t{unknown}"))
    if "bad_args" in faults:
        args = draw(bad_args(tasks[bad].args))
        patch(bad, args=args)
        expect.append(("bad_args", f"t{bad}"))
    if "missing_ref" in faults:
        ghost = draw(st.sampled_from(["$ghost", "$ghost.field", "$t99"]))
        patch(
            missing, args=tasks[missing].args | {"inputs": [*tasks[missing].args["inputs"], ghost]}
        )
        expect.append(("missing_ref", f"t{missing}"))
    if "cycle" in faults:
        for a, b in ((ci, cj), (cj, ci)):
            inputs = tasks[a].args["inputs"]
            if f"$t{b}" not in inputs:
                patch(a, args=tasks[a].args | {"inputs": [*inputs, f"$t{b}"]})
        expect.append(("cycle", (f"t{ci}", f"t{cj}")))

    everything = tasks + extra
    order = draw(st.permutations(range(len(everything))))
    shuffled = [everything[k] for k in order]
    if "duplicate_step" in faults:
        ids = [t.id for t in shuffled if t.args == tasks[src].args and t.tool == "node"]
        expect.append(("duplicate_step", ids[-1]))  # the later one repeats the first
    return Plan(tasks=shuffled), expect


@SETTINGS
@given(case=faulty_plans())
def test_every_injected_fault_is_reported(case: tuple[Plan, list[tuple[str, Any]]]) -> None:
    plan, expect = case
    problems = validate_plan(plan, Recorder().registry())
    found = {(p.code, p.task_id) for p in problems}
    for code, where in expect:
        if code == "cycle":
            cycles = [p for p in problems if p.code == "cycle"]
            assert any(
                all(f"{t} " in p.message or f"{t})" in p.message for t in where) for p in cycles
            ), (where, problems)
        else:
            assert (code, where) in found, (code, where, problems)
    assert {p.code for p in problems} <= {code for code, _ in expect}, problems
    for p in problems:
        assert p.message and (p.task_id is None or p.task_id in {t.id for t in plan.tasks})


# -- (c) fold is incremental --------------------------------------------------------


@st.composite
def runs(draw: st.DrawFn) -> tuple[Plan, int]:
    dag = draw(dags(max_size=8))
    tasks = []
    for i in range(dag.size):
        mode = draw(st.sampled_from(["ok", "ok", "ok", "fail", "flaky", "crash"]))
        policy = draw(
            st.sampled_from(
                [None, Policy(optional=True), Policy(max_attempts=2, backoff=Backoff())]
            )
        )
        task = node_task(dag, i, mode=mode)
        tasks.append(task.model_copy(update={"policy": policy}))
    return Plan(tasks=[tasks[i] for i in dag.order]), draw(st.integers(1, 3))


@SETTINGS
@given(case=runs(), data=st.data())
def test_fold_is_the_same_in_one_batch_or_in_pieces(
    case: tuple[Plan, int], data: st.DataObject
) -> None:
    plan, concurrency = case
    orch = orchestrator(Recorder().registry(), concurrency)
    result = orch.execute(plan)
    events = orch.store.events(result.run_id)
    whole = fold(events)

    assert whole.status is result.status and whole.value == result.value
    assert whole.outcomes == result.outcomes
    assert whole.last_seq == len(events)
    assert whole.started == {}  # every started task reached a terminal event
    assert set(whole.outcomes) == {t.id for t in plan.tasks}
    assert all(
        o.status in (OutcomeStatus.SUCCEEDED, OutcomeStatus.FAILED, OutcomeStatus.SKIPPED)
        for o in whole.outcomes.values()
    )

    one_at_a_time = reduce(lambda state, ev: fold([ev], initial=state), events, None)
    assert one_at_a_time == whole

    cuts = sorted(
        data.draw(st.lists(st.integers(0, len(events)), max_size=6), label="split points")
    )
    state: RunState | None = None
    previous = 0
    for cut in [*cuts, len(events)]:
        state = fold(events[previous:cut], initial=state, run_id=result.run_id)
        previous = cut
    assert state == whole
