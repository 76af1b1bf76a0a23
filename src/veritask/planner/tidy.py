"""Deterministic clean-up of a sampled plan, before it is checked.

A small model often repeats a look-up it already wrote ("2. product("Gadget")
3. product("Gadget")") or writes a step nothing uses. Both are harmless to
the meaning of the plan, so instead of spending a repair round on them the
planner rewrites the plan: a repeated step is merged into its first
occurrence (references follow it), and steps that neither the answer nor
another step uses are dropped. Task ids are renumbered t1..tn, so equivalent
samples vote together.
"""

from __future__ import annotations

import json
import re

from veritask.plan.refs import REF_PATTERN, find_refs, template_refs
from veritask.tools.questions import asked_question
from veritask.tools.registry import ToolRegistry
from veritask.types import Plan, Task


def _rename(text: str, mapping: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        return "$" + mapping.get(m.group(1), m.group(1)) + m.group(2)

    return REF_PATTERN.sub(sub, text)


def _rename_args(value: object, mapping: dict[str, str]) -> object:
    if isinstance(value, str):
        return _rename(value, mapping)
    if isinstance(value, list):
        return [_rename_args(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: _rename_args(v, mapping) for k, v in value.items()}
    return value


def tidy(plan: Plan) -> Plan:
    """`plan` with repeated steps merged and unused steps dropped (see module doc)."""
    first: dict[str, str] = {}
    alias: dict[str, str] = {}
    kept: list[Task] = []
    for task in plan.tasks:
        args = _rename_args(task.args, alias)
        key = task.tool + json.dumps(args, sort_keys=True, default=str)
        if key in first:
            alias[task.id] = first[key]
            continue
        first[key] = task.id
        kept.append(task.model_copy(update={"args": args}))
    template = _rename(plan.answer_template, alias) if plan.answer_template else None
    used = {r.task_id for r in template_refs(template or "")} if template else set()
    if not used and kept:
        used = {kept[-1].id}
    for task in reversed(kept):  # a step is used when a used step or the answer reads it
        if task.id in used:
            used |= {r.task_id for r in find_refs(task.args)} | set(task.after)
    kept = [t for t in kept if t.id in used]
    if len(kept) == len(plan.tasks) and not alias:
        return plan
    number = {t.id: f"t{i}" for i, t in enumerate(kept, start=1)}
    tasks = [
        t.model_copy(
            update={
                "id": number[t.id],
                "args": _rename_args(t.args, number),
                "after": [number[a] for a in t.after if a in number],
            }
        )
        for t in kept
    ]
    return plan.model_copy(
        update={"tasks": tasks, "answer_template": _rename(template, number) if template else None}
    )


def questions_as_asked(plan: Plan, question: str, registry: ToolRegistry) -> Plan:
    """`plan` with each `Question` argument that is only a topic of ``question`` replaced by
    ``question`` itself (see `veritask.tools.questions.asked_question`).

    When one step reads a question, that step answers the whole of it, so a narrower
    question it wrote ("What is the pass statement?") is widened to the one asked too;
    with several reader steps each keeps a question of its own (a compound goal's parts).
    """
    readers = {t.id for t in plan.tasks if registry.reads_question(t.tool)}
    if not readers:
        return plan
    whole = len(readers) == 1
    tasks = []
    for task in plan.tasks:
        if task.id not in readers:
            tasks.append(task)
            continue
        args = dict(task.args)
        for name in registry.get(task.tool).question_params:
            value = args.get(name)
            if isinstance(value, str) and "$" not in value:
                args[name] = asked_question(value, question, whole=whole)
        tasks.append(task if args == task.args else task.model_copy(update={"args": args}))
    return plan.model_copy(update={"tasks": tasks})


def unused_lookups(written: Plan, tidied: Plan) -> list[str]:
    """Problems for names the model looked up and then never used: the tidy step drops
    such a step, and the repair must hear why the name went missing."""
    kept = {json.dumps(t.args, sort_keys=True, default=str) for t in tidied.tasks}
    out = []
    for i, task in enumerate(written.tasks, start=1):
        key = json.dumps(task.args, sort_keys=True, default=str)
        if key in kept or any("$" in str(v) for v in task.args.values()):
            continue
        names = ", ".join(repr(v) for v in task.args.values())
        out.append(
            f"step {i} looks up {names} but nothing uses its result; use ${i} in a later step"
        )
        kept.add(key)
    return out


__all__ = ["questions_as_asked", "tidy", "unused_lookups"]
