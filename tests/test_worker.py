"""One task's attempt: evidence and confidence on every outcome, argument problems found
only at run time, and the low-confidence policy."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from veritask import Confidence, Orchestrator, Plan, Source, Task, ToolResult
from veritask.runtime.result import RunResult
from veritask.runtime.state import fold
from veritask.tools import ToolRegistry
from veritask.types import ConfidenceMethod, OutcomeStatus, Policy, RunStatus


@pytest.fixture
def reg(registry: ToolRegistry) -> ToolRegistry:
    @registry.tool
    def lookup(key: str) -> ToolResult:
        """A source of truth that cites its record and may be unsure."""
        if key == "fuzzy":
            return ToolResult(
                value=7,
                evidence=[Source(tool="lookup", source="kb", record_id="r7", fields={"v": 7})],
                confidence=Confidence(
                    score=0.2, method=ConfidenceMethod.TOOL, signals={"match": 0.2}
                ),
            )
        if key == "bare":
            return ToolResult(value=3)
        if key == "absent":
            return ToolResult(None, no_answer="lookup found no record for 'absent'")
        return ToolResult(value={"key": key, "n": 1})

    @registry.tool
    def scale(value: float, factor: int = 2) -> float:
        return value * factor

    @registry.tool
    def text(s: str) -> str:
        return s

    @registry.tool
    def record(key: str) -> dict[str, Any]:
        return {"key": key}

    return registry


def execute(reg: ToolRegistry, *tasks: Task) -> tuple[Orchestrator, RunResult]:
    orch = Orchestrator(store="memory://", registry=reg)
    return orch, orch.execute(Plan(tasks=list(tasks)))


def T(tid: str, tool: str, policy: Policy | None = None, **args: Any) -> Task:
    return Task(id=tid, tool=tool, args=args, policy=policy)


def test_plain_values_get_tool_confidence_and_default_evidence(reg: ToolRegistry) -> None:
    _, result = execute(reg, T("a", "calc", expression="1"), T("b", "calc", expression="$a + 2"))
    b = result.outcomes["b"]
    assert b.value == 3
    assert b.confidence.score == 1.0 and b.confidence.method is ConfidenceMethod.TOOL
    # Evidence records the query as actually sent: references resolved.
    assert b.evidence == [Source(tool="calc", query={"expression": "1 + 2"})]


def test_tool_result_evidence_and_confidence_are_kept_and_logged(reg: ToolRegistry) -> None:
    orch, result = execute(
        reg,
        T("f", "lookup", Policy(min_confidence=0.1), key="fuzzy"),
        T("b", "lookup", key="bare"),
    )
    fuzzy = result.outcomes["f"]
    assert fuzzy.value == 7
    assert fuzzy.confidence.score == 0.2 and fuzzy.confidence.signals == {"match": 0.2}
    assert fuzzy.evidence == [Source(tool="lookup", source="kb", record_id="r7", fields={"v": 7})]
    bare = result.outcomes["b"]
    assert bare.confidence.score == 1.0
    assert bare.evidence == [Source(tool="lookup", query={"key": "bare"})]
    # The same, read back from the log.
    assert fold(orch.store.events(result.run_id)).outcomes == result.outcomes


def test_field_reference_into_a_tool_result_value(reg: ToolRegistry) -> None:
    # `-> ToolResult` says nothing about the value's fields: `$a.n` must not be rejected
    # as if it named a field of ToolResult itself (value, evidence, confidence).
    _, result = execute(reg, T("a", "lookup", key="x"), T("b", "scale", value="$a.n", factor=5))
    assert result.status is RunStatus.SUCCEEDED
    assert result.outcomes["b"].value == 5


def test_argument_of_the_wrong_type_at_run_time_fails_without_retry(reg: ToolRegistry) -> None:
    _, result = execute(reg, T("a", "text", s="many"), T("b", "scale", value="$a"))
    b = result.outcomes["b"]
    assert b.status is OutcomeStatus.FAILED and b.attempts == 1
    assert b.error is not None
    assert b.error.type == "InvalidArguments" and not b.error.retryable
    assert "'value'" in b.error.message and "scale" in b.error.message


def test_missing_field_at_run_time_is_a_reference_error(reg: ToolRegistry) -> None:
    _, result = execute(reg, T("a", "record", key="x"), T("b", "scale", value="$a.missing"))
    b = result.outcomes["b"]
    assert b.status is OutcomeStatus.FAILED
    assert b.error is not None and b.error.type == "ReferenceError"
    assert "no field 'missing'" in b.error.message


def test_arguments_are_coerced_to_the_declared_types(reg: ToolRegistry) -> None:
    _, result = execute(reg, T("a", "scale", value=2, factor=3))
    assert result.outcomes["a"].value == 6.0
    assert isinstance(result.outcomes["a"].value, float)


def test_low_confidence_is_accepted_when_the_policy_says_accept(reg: ToolRegistry) -> None:
    policy = Policy(min_confidence=0.5, on_low_confidence="accept")
    _, result = execute(reg, T("f", "lookup", policy, key="fuzzy"))
    assert result.outcomes["f"].status is OutcomeStatus.SUCCEEDED
    assert result.outcomes["f"].confidence.score == 0.2


def test_low_confidence_fails_the_task_when_the_policy_says_fail(reg: ToolRegistry) -> None:
    policy = Policy(min_confidence=0.5, on_low_confidence="fail")
    _, result = execute(
        reg, T("f", "lookup", policy, key="fuzzy"), T("g", "scale", value="$f", factor=1)
    )
    f = result.outcomes["f"]
    assert f.status is OutcomeStatus.FAILED
    assert f.error is not None and "confidence" in f.error.message
    assert result.outcomes["g"].status is OutcomeStatus.SKIPPED


@pytest.mark.parametrize("on_low", ["accept", "fail"])
def test_a_tool_that_found_no_answer_is_a_gap_whatever_the_policy(
    reg: ToolRegistry, on_low: Literal["accept", "fail"]
) -> None:
    policy = Policy(min_confidence=0.0, on_low_confidence=on_low)  # `accept`: nothing to accept
    _, result = execute(
        reg, T("f", "lookup", policy, key="absent"), T("g", "scale", value="$f", factor=1)
    )
    f = result.outcomes["f"]
    assert f.status is OutcomeStatus.FAILED and f.value is None
    assert f.error is not None and f.error.type == "NoAnswer"
    assert "lookup found no record for 'absent'" in f.error.message
    assert f.confidence.score == 0.0
    assert result.outcomes["g"].status is OutcomeStatus.SKIPPED
    assert any("found no record" in gap for gap in result.gaps)


def test_a_value_the_log_cannot_store_does_not_crash_the_run(
    registry: ToolRegistry, store_url: str
) -> None:
    @registry.tool
    def huge() -> int:
        return 10**5000  # more digits than Python will turn into a JSON string

    orch = Orchestrator(store=store_url, registry=registry)
    plan = Plan(
        tasks=[Task(id="h", tool="huge"), Task(id="ok", tool="calc", args={"expression": "1"})]
    )
    result = orch.execute(plan)
    assert result.outcomes["ok"].ok
    state = fold(orch.store.events(result.run_id))
    assert state.finished, "the run must reach RunFinished"
    assert set(state.outcomes) == {"h", "ok"}


@dataclass
class Point:
    x: int
    y: int


class Facts(BaseModel):
    name: str
    population: int


def test_structured_final_values_are_logged_as_data(registry: ToolRegistry, store_url: str) -> None:
    """The run's logged value is the same JSON data as its final task's logged value,
    not a repr string: `veritask show` and resume read the value from the log."""

    @registry.tool
    def point(x: int) -> Point:
        return Point(x, 2)

    @registry.tool
    def facts(name: str) -> Facts:
        return Facts(name=name, population=5)

    orch = Orchestrator(store=store_url, registry=registry)
    for tool, args, logged in [
        ("point", {"x": 1}, {"x": 1, "y": 2}),
        ("facts", {"name": "Malta"}, {"name": "Malta", "population": 5}),
    ]:
        result = orch.execute(Plan(tasks=[Task(id="t", tool=tool, args=args)]))
        state = fold(orch.store.events(result.run_id))
        assert state.outcomes["t"].value == logged
        assert state.value == logged


def test_async_tool_behind_a_sync_decorator_is_awaited(registry: ToolRegistry) -> None:
    """A plain `functools.wraps` decorator hides that the tool is async; the coroutine it
    returns must be awaited, not reported as the task's value."""

    def logged(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        return wrapper

    @registry.tool
    @logged
    async def double(n: int) -> int:
        return 2 * n

    _, result = execute(registry, T("a", "double", n=21))
    assert result.outcomes["a"].status is OutcomeStatus.SUCCEEDED
    assert result.value == 42


def test_a_result_that_contradicts_the_declared_type_fails_the_task() -> None:
    from veritask import Orchestrator, Plan, Task
    from veritask.tools import ToolRegistry

    reg = ToolRegistry()

    @reg.tool
    def distance(a: str) -> float:
        return "n/a"  # type: ignore[return-value]

    result = Orchestrator("memory://", registry=reg, memory=False).execute(
        Plan(tasks=[Task(id="d", tool="distance", args={"a": "x"})])
    )
    outcome = result.outcomes["d"]
    assert outcome.status.value == "failed"
    assert outcome.error is not None and outcome.error.type == "InvalidResult"
    assert "n/a" in outcome.error.message
