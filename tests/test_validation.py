"""Plan validation reports every problem at once, each naming the task and the fix."""

from __future__ import annotations

from typing import TypedDict

import pytest

from veritask.plan.validation import PlanProblem, topological_order, validate_plan
from veritask.tools import ToolRegistry
from veritask.types import Plan, Task


class CountryFacts(TypedDict):
    name: str
    population: int


@pytest.fixture
def reg(registry: ToolRegistry) -> ToolRegistry:
    @registry.tool
    def country(name: str) -> CountryFacts:
        """Facts about a country."""
        raise AssertionError("validation must never call a tool")

    @registry.tool
    def scale(value: float, factor: int = 2, labels: list[str] | None = None) -> float:
        """Multiply a number."""
        raise AssertionError("validation must never call a tool")

    return registry


def T(tid: str, tool: str = "calc", **args: object) -> Task:
    return Task(id=tid, tool=tool, args=args)


def problems(plan: Plan, reg: ToolRegistry) -> list[PlanProblem]:
    return validate_plan(plan, reg)


def codes(found: list[PlanProblem]) -> set[tuple[str, str | None]]:
    return {(p.code, p.task_id) for p in found}


def test_a_valid_plan_has_no_problems(reg: ToolRegistry) -> None:
    plan = Plan(
        tasks=[
            T("fr", "country", name="France"),
            T("es", "country", name="Spain"),
            T("sum", expression="$fr.population + $es.population"),
            T("half", "scale", value="$sum", factor=1, labels=["a", "$fr.name"]),
        ],
        answer_template="Total {$sum}, France is called {$fr.name}.",
    )
    assert problems(plan, reg) == []
    assert topological_order(plan) == ["fr", "es", "sum", "half"]


def test_duplicate_ids(reg: ToolRegistry) -> None:
    plan = Plan(tasks=[T("a", expression="1"), T("a", expression="2")])
    [p] = problems(plan, reg)
    assert (p.code, p.task_id) == ("duplicate_id", "a")
    assert "unique" in p.message
    assert str(p).startswith("task 'a':")


def test_unknown_tool_names_the_known_ones(reg: ToolRegistry) -> None:
    [p] = problems(Plan(tasks=[T("a", "population", country="France")]), reg)
    assert (p.code, p.task_id) == ("unknown_tool", "a")
    assert "'population'" in p.message
    for known in ("calc", "country", "scale"):
        assert known in p.message


def test_missing_argument(reg: ToolRegistry) -> None:
    [p] = problems(Plan(tasks=[T("a", "scale", factor=3)]), reg)
    assert (p.code, p.task_id) == ("bad_args", "a")
    assert "'value'" in p.message and "add it" in p.message


def test_extra_argument_lists_the_accepted_ones(reg: ToolRegistry) -> None:
    [p] = problems(Plan(tasks=[T("a", expression="1", precision=2)]), reg)
    assert (p.code, p.task_id) == ("bad_args", "a")
    assert "'precision'" in p.message and "expression" in p.message


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ({"value": "lots"}, "value"),
        ({"value": 1, "factor": 1.5}, "factor"),
        ({"value": 1, "labels": "a,b"}, "labels"),
        ({"value": 1, "labels": ["a", 3]}, "labels"),
        ({"value": {"x": 1}}, "value"),
    ],
)
def test_wrong_argument_type(reg: ToolRegistry, args: dict[str, object], name: str) -> None:
    [p] = problems(Plan(tasks=[Task(id="a", tool="scale", args=args)]), reg)
    assert (p.code, p.task_id) == ("bad_args", "a")
    assert repr(name) in p.message


def test_arguments_holding_references_are_not_type_checked_before_the_run(
    reg: ToolRegistry,
) -> None:
    plan = Plan(tasks=[T("a", expression="2"), T("b", "scale", value="$a", labels="$a")])
    assert problems(plan, reg) == []


def test_every_problem_is_reported_at_once(reg: ToolRegistry) -> None:
    plan = Plan(
        tasks=[
            T("a", expression="1"),
            T("a", expression="2"),
            T("b", "nope"),
            T("c", "scale", value="x"),
            T("d", expression="$ghost + 1"),
        ]
    )
    assert codes(problems(plan, reg)) == {
        ("duplicate_id", "a"),
        ("unknown_tool", "b"),
        ("bad_args", "c"),
        ("missing_ref", "d"),
    }


@pytest.mark.parametrize(
    "args",
    [
        {"expression": "$ghost"},
        {"expression": "($a + $ghost) / 2"},
        {"value": 1, "labels": ["x", ["$ghost"]]},
        {"value": {"nested": {"deep": "$ghost.field"}}},
    ],
)
def test_reference_to_a_missing_task_anywhere(reg: ToolRegistry, args: dict[str, object]) -> None:
    tool = "calc" if "expression" in args else "scale"
    plan = Plan(tasks=[T("a", expression="1"), Task(id="b", tool=tool, args=args)])
    found = [p for p in problems(plan, reg) if p.code == "missing_ref"]
    assert [(p.code, p.task_id) for p in found] == [("missing_ref", "b")]
    assert "'ghost'" in found[0].message and "a" in found[0].message


def test_after_naming_a_missing_task(reg: ToolRegistry) -> None:
    plan = Plan(tasks=[Task(id="a", tool="calc", args={"expression": "1"}, after=["ghost"])])
    [p] = problems(plan, reg)
    assert (p.code, p.task_id) == ("missing_ref", "a")
    assert "'ghost'" in p.message and "after" in p.message


def test_reference_to_a_missing_field_of_a_typeddict_result(reg: ToolRegistry) -> None:
    plan = Plan(tasks=[T("fr", "country", name="France"), T("b", expression="$fr.populaton * 2")])
    [p] = problems(plan, reg)
    assert (p.code, p.task_id) == ("missing_field", "b")
    assert "'populaton'" in p.message
    assert "name, population" in p.message


def test_field_of_a_scalar_result_suggests_the_whole_value(reg: ToolRegistry) -> None:
    plan = Plan(tasks=[T("a", expression="1"), T("b", expression="$a.value + 1")])
    [p] = problems(plan, reg)
    assert (p.code, p.task_id) == ("missing_field", "b")
    assert "$a" in p.message


def test_fields_of_untyped_results_are_not_checked(reg: ToolRegistry) -> None:
    @reg.tool
    def anything(q: str) -> dict:  # type: ignore[type-arg]
        return {}

    plan = Plan(tasks=[T("a", "anything", q="x"), T("b", expression="$a.whatever")])
    assert problems(plan, reg) == []


def test_self_reference(reg: ToolRegistry) -> None:
    [p] = problems(Plan(tasks=[T("a", expression="$a + 1")]), reg)
    assert (p.code, p.task_id) == ("self_ref", "a")
    assert "itself" in p.message


def test_self_reference_through_after(reg: ToolRegistry) -> None:
    # A task that waits for itself can never start: validation must say so.
    plan = Plan(tasks=[Task(id="a", tool="calc", args={"expression": "1"}, after=["a"])])
    found = problems(plan, reg)
    assert ("self_ref", "a") in codes(found) or ("cycle", "a") in codes(found)


def test_cycle_names_every_task_on_it(reg: ToolRegistry) -> None:
    plan = Plan(
        tasks=[
            T("start", expression="1"),
            T("a", expression="$c + $start"),
            T("b", expression="$a + 1"),
            T("c", expression="$b + 1"),
            T("after_cycle", expression="$c"),
        ]
    )
    [p] = problems(plan, reg)
    assert p.code == "cycle"
    assert p.task_id == "a"
    assert "a -> b -> c -> a" in p.message
    assert "start" not in p.message and "after_cycle" not in p.message
    assert "DAG" in p.message


def test_cycle_through_after(reg: ToolRegistry) -> None:
    plan = Plan(
        tasks=[
            Task(id="x", tool="calc", args={"expression": "1"}, after=["y"]),
            T("y", expression="$x + 1"),
        ]
    )
    assert codes(problems(plan, reg)) == {("cycle", "x")}


def test_two_separate_cycles_are_two_problems(reg: ToolRegistry) -> None:
    plan = Plan(
        tasks=[
            T("a", expression="$b"),
            T("b", expression="$a + 0"),
            T("c", expression="$d"),
            T("d", expression="$c + 0"),
        ]
    )
    found = problems(plan, reg)
    assert sorted(p.message.split("(")[1].split(")")[0] for p in found) == [
        "a -> b -> a",
        "c -> d -> c",
    ]


def test_duplicate_step_points_to_the_first(reg: ToolRegistry) -> None:
    plan = Plan(
        tasks=[
            T("fr", "country", name="France"),
            T("fr_again", "country", name="France"),
            T("es", "country", name="Spain"),
        ]
    )
    [p] = problems(plan, reg)
    assert (p.code, p.task_id) == ("duplicate_step", "fr_again")
    assert "'fr'" in p.message and "$fr" in p.message


def test_same_tool_with_other_arguments_is_not_a_duplicate(reg: ToolRegistry) -> None:
    plan = Plan(tasks=[T("a", expression="1"), T("b", expression="1 ")])
    assert problems(plan, reg) == []


@pytest.mark.parametrize(
    ("template", "code", "fragment"),
    [
        ("Total {$ghost}.", "missing_ref", "'ghost'"),
        ("France has {$fr.populaton}.", "missing_field", "'populaton'"),
    ],
)
def test_bad_template_references(
    reg: ToolRegistry, template: str, code: str, fragment: str
) -> None:
    plan = Plan(tasks=[T("fr", "country", name="France")], answer_template=template)
    [p] = problems(plan, reg)
    assert (p.code, p.task_id) == (code, None)
    assert p.message.startswith("answer_template:") and fragment in p.message
    assert str(p).startswith("plan:")


def test_validation_never_calls_tools(reg: ToolRegistry) -> None:
    # The fixture's tools raise when called; a full validation must not trip them.
    plan = Plan(tasks=[T("fr", "country", name="France"), T("x", "scale", value="$fr.population")])
    assert problems(plan, reg) == []


def test_topological_order_respects_dependencies_and_plan_order(reg: ToolRegistry) -> None:
    plan = Plan(
        tasks=[
            T("total", expression="$a + $b"),
            T("b", expression="$a * 2"),
            T("a", expression="1"),
            Task(id="z", tool="calc", args={"expression": "0"}, after=["total"]),
        ]
    )
    assert problems(plan, reg) == []
    assert topological_order(plan) == ["a", "b", "total", "z"]
