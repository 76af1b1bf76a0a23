"""Plan validation: a pure function that reports every problem at once.

A plan from a small model is wrong in several places at a time; reporting
only the first problem would make repair take one round per mistake. Each
problem names the task and says how to fix it, because the message is fed
back to the planner as well as shown to people.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from veritask.errors import PlanProblem
from veritask.plan.catalog import ToolCatalog, ToolSignature
from veritask.plan.refs import Ref, env_names, find_refs, has_refs, template_refs
from veritask.types import Plan, Task


def dependencies(task: Task) -> set[str]:
    """Task ids `task` waits for: those its args reference plus `after`."""
    return {ref.task_id for ref in find_refs(task.args)} | set(task.after)


def validate_plan(plan: Plan, registry: ToolCatalog) -> list[PlanProblem]:
    """Every problem in `plan` against the tools in `registry`; empty when valid."""
    problems: list[PlanProblem] = []
    ids = [t.id for t in plan.tasks]
    problems += _duplicate_ids(ids)
    tasks = {t.id: t for t in plan.tasks}
    for task in plan.tasks:
        problems += _check_tool_and_args(task, registry)
        problems += _check_refs(task, tasks, registry)
    problems += _duplicate_steps(plan.tasks)
    problems += _cycles(plan.tasks, tasks)
    if plan.answer_template is not None:
        problems += _check_template(plan.answer_template, tasks, registry)
    return problems


def _duplicate_ids(ids: list[str]) -> list[PlanProblem]:
    seen: set[str] = set()
    out = []
    for tid in ids:
        if tid in seen:
            out.append(
                PlanProblem(
                    "duplicate_id", "id is used by more than one task; give each a unique id", tid
                )
            )
        seen.add(tid)
    return out


def _check_tool_and_args(task: Task, registry: ToolCatalog) -> list[PlanProblem]:
    if task.tool not in registry:
        known = ", ".join(registry.names()) or "none"
        return [
            PlanProblem(
                "unknown_tool",
                f"tool {task.tool!r} is not registered{_did_you_mean(task.tool, registry)}; "
                f"use one of: {known}, or --import the module that defines it",
                task.id,
            )
        ]
    spec = registry.get(task.tool)
    fields = spec.params_model.model_fields
    out = []
    for name in task.args:
        if name not in fields:
            accepted = ", ".join(spec.param_names) or "no arguments"
            out.append(
                PlanProblem(
                    "bad_args",
                    f"{task.tool} does not take argument {name!r}; it takes: {accepted}",
                    task.id,
                )
            )
    for name in spec.required_params:
        if name not in task.args:
            out.append(
                PlanProblem(
                    "bad_args", f"{task.tool} needs argument {name!r}; add it to args", task.id
                )
            )
    for name, value in task.args.items():
        # References and $env:NAME secrets get their values only at run time.
        known_now = not has_refs(value) and not env_names(value)
        if name in fields and known_now:
            message = _type_problem(spec, name, value)
            if message:
                out.append(PlanProblem("bad_args", message, task.id))
    return out


def _type_problem(spec: ToolSignature, name: str, value: Any) -> str | None:
    try:
        spec.param_adapter(name).validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"argument {name!r} of {spec.name}: {first['msg']} (got {_short(value)})"
    return None


def _did_you_mean(name: str, catalog: ToolCatalog) -> str:
    import difflib

    close = difflib.get_close_matches(name, catalog.names(), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _short(value: Any, limit: int = 120) -> str:
    """A bounded repr: a 50 MB argument must not be echoed into an error."""
    try:
        text = repr(value)
    except Exception:
        text = type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_refs(task: Task, tasks: dict[str, Task], registry: ToolCatalog) -> list[PlanProblem]:
    out = []
    for dep in task.after:
        if dep == task.id:
            out.append(
                PlanProblem(
                    "self_ref", "'after' names the task itself; it could never start", task.id
                )
            )
        elif dep not in tasks:
            out.append(
                PlanProblem(
                    "missing_ref", f"'after' names task {dep!r}, which is not in the plan", task.id
                )
            )
    seen: set[Ref] = set()
    for ref in find_refs(task.args):
        if ref in seen:
            continue
        seen.add(ref)
        if ref.task_id == task.id:
            out.append(
                PlanProblem(
                    "self_ref",
                    f"{ref} refers to the task itself; a task cannot use its own value",
                    task.id,
                )
            )
            continue
        out += _ref_problem(ref, tasks, registry, task.id)
    return out


def _ref_problem(
    ref: Ref, tasks: dict[str, Task], registry: ToolCatalog, owner: str | None
) -> list[PlanProblem]:
    target = tasks.get(ref.task_id)
    if target is None:
        known = ", ".join(tasks) or "none"
        return [
            PlanProblem(
                "missing_ref",
                f"{ref} refers to task {ref.task_id!r}, which is not in the plan (tasks: {known})",
                owner,
            )
        ]
    if ref.path and target.tool in registry:
        fields = registry.get(target.tool).output_fields
        if fields is not None and ref.path[0] not in fields:
            offered = ", ".join(sorted(fields)) or f"none — use ${ref.task_id} itself"
            return [
                PlanProblem(
                    "missing_field",
                    f"{ref}: {target.tool} returns no field {ref.path[0]!r} (fields: {offered})",
                    owner,
                )
            ]
    return []


def _canonical_step(task: Task) -> object:
    if all(isinstance(v, str | int | float | bool | None) for v in task.args.values()):
        return (task.tool, tuple(sorted(task.args.items())))  # the common, flat case
    return task.tool + json.dumps(task.args, sort_keys=True, default=str)


def _duplicate_steps(tasks: Iterable[Task]) -> list[PlanProblem]:
    first: dict[object, str] = {}
    out = []
    for task in tasks:
        key = _canonical_step(task)
        if key in first and first[key] != task.id:
            out.append(
                PlanProblem(
                    "duplicate_step",
                    f"repeats task {first[key]!r} (same tool and arguments); "
                    f"remove it and refer to ${first[key]} instead",
                    task.id,
                )
            )
        first.setdefault(key, task.id)
    return out


def _cycles(ordered: list[Task], tasks: dict[str, Task]) -> list[PlanProblem]:
    """Each cycle (a strongly connected component of size > 1), tasks named in plan order."""
    graph = {t.id: sorted(d for d in dependencies(t) if d in tasks and d != t.id) for t in ordered}
    position = {t.id: i for i, t in enumerate(ordered)}
    if all(position[d] < position[tid] for tid, deps in graph.items() for d in deps):
        return []  # every step uses only earlier ones (nearly every plan): no cycle to find
    out = []
    for comp in _strongly_connected(graph, [t.id for t in ordered]):
        if len(comp) < 2:
            continue
        names = sorted(comp, key=position.__getitem__)
        cycle = " -> ".join([*names, names[0]])
        out.append(
            PlanProblem(
                "cycle",
                f"tasks form a cycle ({cycle}); remove one of these references "
                "so the plan is a DAG",
                names[0],
            )
        )
    return out


def _strongly_connected(graph: dict[str, list[str]], nodes: list[str]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: plans from models can be long chains."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)

    for root in nodes:
        if root in index:
            continue
        visit(root)
        work = [(root, iter(graph[root]))]
        while work:
            v, edges = work[-1]
            child = next((w for w in edges if w not in index or w in on_stack), None)
            if child is not None:
                if child in index:
                    low[v] = min(low[v], index[child])
                else:
                    visit(child)
                    work.append((child, iter(graph[child])))
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                components.append(comp)
    return components


def _check_template(
    template: str, tasks: dict[str, Task], registry: ToolCatalog
) -> list[PlanProblem]:
    out = []
    for ref in template_refs(template):
        for p in _ref_problem(ref, tasks, registry, None):
            out.append(PlanProblem(p.code, f"answer_template: {p.message}", None))
    return out


def topological_order(plan: Plan) -> list[str]:
    """Task ids in an order that respects dependencies (plan order breaks ties).

    Assumes a validated plan; raises ValueError on a cycle.
    """
    remaining = {t.id: dependencies(t) for t in plan.tasks}
    order: list[str] = []
    done: set[str] = set()
    while remaining:
        ready = [tid for tid, deps in remaining.items() if deps <= done]
        if not ready:
            raise ValueError("plan has a cycle")
        for tid in ready:
            order.append(tid)
            done.add(tid)
            del remaining[tid]
    return order


__all__ = ["PlanProblem", "dependencies", "topological_order", "validate_plan"]
