"""Tool results the log cannot hold fail their task; an incomplete run has no value."""

from __future__ import annotations

import math
import uuid

from veritask import Orchestrator, Plan, Task, tool
from veritask.tools import ToolRegistry

REG = ToolRegistry()
SUFFIX = uuid.uuid4().hex[:6]


@REG.tool(name="opaque")
def opaque() -> object:
    return object()


@REG.tool(name="not_a_number")
def not_a_number() -> float:
    return math.nan


@REG.tool(name="pair")
def pair() -> object:
    return {1, 2}


def run(tool_name: str) -> object:
    orch = Orchestrator("memory://", registry=REG, memory=False)
    return orch.execute(Plan(tasks=[Task(id="t", tool=tool_name)], answer_template="{$t}"))


def test_an_object_is_not_turned_into_its_repr_but_fails_the_task() -> None:
    result = run("opaque")
    outcome = result.outcomes["t"]  # type: ignore[attr-defined]
    assert outcome.status.value == "failed"
    assert outcome.error.type == "UnstorableValue" and "object" in outcome.error.message
    assert result.value is None  # type: ignore[attr-defined]


def test_nan_fails_the_task() -> None:
    outcome = run("not_a_number").outcomes["t"]  # type: ignore[attr-defined]
    assert outcome.status.value == "failed"
    assert "NaN" in outcome.error.message


def test_a_set_is_stored_as_a_list_on_purpose() -> None:
    result = run("pair")
    assert result.outcomes["t"].status.value == "succeeded"  # type: ignore[attr-defined]


def test_a_run_with_a_missing_slot_has_no_placeholder_value() -> None:
    @tool(name=f"broken_{SUFFIX}")
    def broken() -> int:
        raise RuntimeError("down")

    orch = Orchestrator("memory://", memory=False)
    plan = Plan(
        tasks=[
            Task(id="a", tool="calc", args={"expression": "1 + 1"}),
            Task(id="b", tool=f"broken_{SUFFIX}", policy={"optional": True}),
        ],
        answer_template="total={$a} and {$b}",
    )
    result = orch.execute(plan)
    assert result.value is None
    assert "[missing]" not in str(result.to_json())
