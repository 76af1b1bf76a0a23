"""Deterministic assembly: fill the plan's answer template from task values.

A slot whose task did not succeed renders as a visible gap, never a guess;
a value that needed escalation is said to have (`wording.escalation_notes`).
The answer's confidence is the weakest link: the lowest confidence among the
tasks it rests on (transitively), times the plan's own confidence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from veritask.assembler import wording
from veritask.assembler.grounding import check
from veritask.plan.refs import RefError, fill_template, format_value, lookup, template_refs
from veritask.plan.validation import dependencies
from veritask.types import (
    Answer,
    AnswerStatus,
    Claim,
    Confidence,
    ConfidenceMethod,
    Outcome,
    Plan,
    Usage,
)

GAP = "[not established]"


def supporting_tasks(plan: Plan, roots: list[str]) -> list[str]:
    """`roots` and every task they depend on, in plan order."""
    deps = {t.id: dependencies(t) for t in plan.tasks}
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        tid = stack.pop()
        if tid in seen or tid not in deps:
            continue
        seen.add(tid)
        stack.extend(deps[tid])
    return [t.id for t in plan.tasks if t.id in seen]


def _display(value: Any) -> Any:
    """Round floats for reading; the machine value keeps full precision."""
    if isinstance(value, float) and math.isfinite(value):
        if abs(value) >= 100:
            return round(value, 1)
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _display(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_display(v) for v in value]
    return value


def assemble_from_template(
    plan: Plan,
    outcomes: Mapping[str, Outcome],
    *,
    plan_confidence: float = 1.0,
    threshold: float = 0.5,
    usage: Usage | None = None,
    context: str = "",
) -> Answer:
    """The answer a plan's template states, given the outcomes of its tasks.

    `context` is text whose names the answer may use besides the question's
    and the outcomes' (the tools' own descriptions: "US dollars", "km");
    numbers never come from it.
    """
    template = plan.answer_template or f"{{${plan.final_task_id}}}"
    refs = template_refs(template)
    values = {tid: o.value for tid, o in outcomes.items() if o.ok}
    resolved: dict[str, Any] = {}
    missing: list[str] = []
    for ref in refs:
        try:
            resolved[str(ref)] = lookup(ref, values)
        except RefError:
            missing.append(ref.task_id)
    roots = sorted({r.task_id for r in refs})
    support = supporting_tasks(plan, roots)
    gaps = wording.gaps(plan, outcomes)
    shown = {tid: _display(v) for tid, v in values.items()}
    text = fill_template(template, shown, missing=GAP)
    supporting = [outcomes[t] for t in support if t in outcomes and outcomes[t].ok]
    allowed = f"{plan.goal}\n{context}" if context else plan.goal
    grounding = check(text, supporting, allowed, words=True)
    repaired = False
    if not grounding.ok and not missing:
        # One repair: drop the planner's wording, keep only the values the slots hold.
        repaired = True
        for described in (True, False):
            text = _neutral_text(plan, refs, shown, described=described)
            grounding = check(text, supporting, allowed, words=True)
            if grounding.ok:
                break
    scores = [outcomes[t].confidence.score if t in outcomes else 0.0 for t in support]
    weakest = min(scores) if scores else 0.0
    score = max(0.0, min(1.0, weakest * plan_confidence)) if not missing else 0.0
    confidence = Confidence(
        score=score,
        method=ConfidenceMethod.COMPOSITE,
        signals={
            "weakest_task": weakest,
            "plan": plan_confidence,
            "missing_slots": len(missing),
            "grounding": "ok"
            if grounding.ok and not repaired
            else "repaired"
            if grounding.ok
            else "failed",
            "ungrounded": grounding.problems(),
        },
    )
    distinct = {str(r) for r in refs}
    value = resolved[str(refs[0])] if len(distinct) == 1 and not missing else None
    stray = _stray_choice(plan, refs, value)
    if stray:
        gaps.append(stray)
    if not refs or len(missing) == len(refs):
        status = AnswerStatus.ABSTAINED
        text = wording.abstention(plan, outcomes)
        if stray:
            text = f"I will not guess: {stray}."
    elif missing or not grounding.ok or stray:
        status = AnswerStatus.PARTIAL
    elif score >= threshold:
        status = AnswerStatus.ANSWERED
    else:
        status = AnswerStatus.PARTIAL
    claims = [Claim(text=text, task_ids=support)] if status is not AnswerStatus.ABSTAINED else []
    notes = wording.escalation_notes(plan, outcomes, support)
    if notes and status is not AnswerStatus.ABSTAINED:
        text = f"{text} ({notes})"  # after the grounding check: it names tasks, not facts
    return Answer(
        text=text,
        value=value,
        status=status,
        confidence=confidence,
        claims=claims,
        gaps=gaps,
        usage=usage or Usage(),
    )


CHOOSING_TOOLS = frozenset({"larger", "smaller"})


def _stray_choice(plan: Plan, refs: list[Any], value: Any) -> str:
    """A choice between things the question names must be one of them: "Northwind
    Traders" is no answer to "the Oak Shelf or the Ladder?" (a label from the wrong field)."""
    tools = {t.id: t.tool for t in plan.tasks}
    chosen = {tools.get(r.task_id) for r in refs}
    if not isinstance(value, str) or not chosen or not chosen <= CHOOSING_TOOLS:
        return ""
    goal = " ".join(plan.goal.lower().split())
    name = " ".join(value.lower().split())
    for variant in (name, name + "s", name + "es", name.removesuffix("s")):
        if variant and re.search(rf"(?<!\w){re.escape(variant)}(?!\w)", goal):
            return ""
    return f"the answer {value!r} is none of the things the question asks to choose between"


def _neutral_text(
    plan: Plan, refs: list[Any], shown: Mapping[str, Any], *, described: bool = True
) -> str:
    """'population (Japan): 125681593' per slot: the values and what the plan says
    they are, nothing else. Not `described`: the field names alone ('population:
    125681593'), for when even the plan's own arguments cannot be traced."""
    parts = []
    for ref in dict.fromkeys(refs):
        try:
            value = lookup(ref, shown)
        except RefError:
            continue
        label = (ref.path[-1] if ref.path else "result").replace("_", " ")
        what = wording.describe(ref, plan) if described else label
        parts.append(f"{what}: {format_value(value)}")
    return "; ".join(parts) + "."
