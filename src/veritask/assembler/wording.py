"""What an answer says it could not establish, in words a reader of the answer uses.

The event log speaks of tasks ("t2 (country_facts) failed: …", "task 't2':
repeats task 't1'"); an answer's reader never saw the plan, so an abstention
or a gap names the *thing* that could not be established ("the country facts
for Narnia") and the reason the source of truth gave. Task ids, references
and planner diagnostics stay in the log, where `veritask show` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from veritask.errors import PlanProblem
from veritask.plan.refs import REF_PATTERN, Ref, find_refs, has_refs
from veritask.redact import is_secret_name
from veritask.types import Outcome, OutcomeStatus, Plan, Task

_INTERNAL = re.compile(r"\$\w|\btask '|\bstep \w+\d\b|\bt\d+\b")
"""Planner diagnostics that speak of the plan's own steps, not of the question."""

_PREFIX = re.compile(r"^(?:plan|task '[^']*'|answer_template):\s*")


def subject(task: Task) -> str:
    """What `task` was to establish: its description, else its tool and plain arguments.

    `country_facts("Narnia")` → "the country facts for Narnia"; arguments that
    refer to other tasks, or hold credentials, are left out.
    """
    if task.description.strip():
        return task.description.strip()
    words = task.tool.replace("_", " ").strip()
    about = _plain_args(task)
    return f"the {words} for {about}" if about else f"the {words}"


COMPARING_TOOLS = {"larger": "the larger", "smaller": "the smaller"}


def describe(ref: Ref, plan: Plan, depth: int = 0) -> str:
    """What the value `ref` reads is, in the plan's own terms: "zone (Saltmarsh)",
    "daily passengers (Pennycross) / daily passengers (Quillon)".

    The neutral answer sentence is built from this alone when the planner's wording
    says more than its tasks established, so it names only fields, arguments and the
    arithmetic the plan wrote — nothing a reader could take for an extra claim.
    """
    task = next((t for t in plan.tasks if t.id == ref.task_id), None)
    if task is None or depth > 4:
        return str(ref)
    inner = [
        describe(ref, plan, depth + 1)
        for value in task.args.values()
        if isinstance(value, str)
        for ref in find_refs(value)
    ]
    if task.tool == "calc":
        expression = str(task.args.get("expression", ""))
        parts = iter(inner)
        said = REF_PATTERN.sub(lambda _m: next(parts, "?"), expression)
        unsigned = re.fullmatch(r"\s*abs\(\s*\$[\w.]+\s*-\s*\$[\w.]+\s*\)\s*", expression)
        if unsigned and len(inner) == 2:  # how far apart a and b are, whichever is larger
            return f"difference between {inner[0]} and {inner[1]}"
        return said
    if task.tool in COMPARING_TOOLS:
        sides = [_side(task, side, plan, depth) for side in ("first", "second")]
        return f"{COMPARING_TOOLS[task.tool]} of {sides[0]} and {sides[1]}"
    label = (ref.path[-1] if ref.path else task.tool.split(".")[-1]).replace("_", " ")
    about = " and ".join(inner) if inner else _plain_args(task)
    return f"{label} ({about})" if about else label


def _side(task: Task, side: str, plan: Plan, depth: int) -> str:
    """One side of a comparison: what its value is ("daily passengers (Quillon)"), or
    the name it was given when the value is a bare number."""
    value = task.args.get(f"{side}_value")
    refs = list(find_refs(value)) if isinstance(value, str) else []
    if refs:
        return describe(refs[0], plan, depth + 1)
    return str(task.args.get(side, side))


def _plain_args(task: Task) -> str:
    """The task's literal arguments a reader may see ("Saltmarsh and Thornbury")."""
    return " and ".join(
        str(value)
        for name, value in task.args.items()
        if isinstance(value, str | int | float)
        and not isinstance(value, bool)
        and not is_secret_name(name)
        and not has_refs(value)
        and len(str(value)) <= 60
    )


def missing(task: Task, outcome: Outcome | None) -> str:
    """One gap: what `task` was to establish and why it was not, without task ids."""
    what = subject(task)
    if outcome is None:
        return f"{what} was not looked up (the run stopped first)"
    if outcome.status is OutcomeStatus.SKIPPED:
        return f"{what} was not attempted, because a value it needs was not established"
    if outcome.status is OutcomeStatus.UNKNOWN:
        return f"{what}: it is not known whether it completed (the run was interrupted)"
    reason = outcome.error.message if outcome.error else outcome.status.value
    return f"could not establish {what}: {reason}"


def gaps(plan: Plan, outcomes: Mapping[str, Outcome]) -> list[str]:
    """A gap per task that did not succeed, in the answer's words."""
    return [
        missing(task, outcomes.get(task.id))
        for task in plan.tasks
        if task.id not in outcomes or not outcomes[task.id].ok
    ]


def abstention(plan: Plan, outcomes: Mapping[str, Outcome]) -> str:
    """The text of an answer that states nothing: what could not be established, and why.

    Failed look-ups are named with their reason; tasks skipped only because
    of them add nothing a reader needs and are left to the gaps.
    """
    failed = []
    for task in plan.tasks:
        o = outcomes.get(task.id)
        if o is not None and o.status is OutcomeStatus.FAILED:
            reason = o.error.message if o.error else "it failed"
            failed.append(f"{subject(task)} ({reason.rstrip('.')})")
    if not failed:
        return "I could not establish an answer: no step of the plan produced a value."
    return "I could not establish " + "; nor ".join(failed) + ", so I will not guess."


_RUNGS = {"resample": "resampling", "stronger_model": "a stronger model", "deep_agent": "an agent"}


def escalation_notes(plan: Plan, outcomes: Mapping[str, Outcome], task_ids: Iterable[str]) -> str:
    """What an answer says of the tasks behind it that climbed the escalation ladder.

    A reader should know that a value needed more than one try ("the room of the
    meeting was unsure at first and was resampled") and when it is still unsure
    (accepted under its threshold). Empty when no such task supports the answer.
    """
    by_id = {t.id: t for t in plan.tasks}
    notes = []
    for tid in task_ids:
        task, outcome = by_id.get(tid), outcomes.get(tid)
        if task is None or outcome is None or not outcome.ok:
            continue
        signals = outcome.confidence.signals
        rungs = [_RUNGS.get(str(r), str(r)) for r in signals.get("escalated") or []]
        if not rungs and not signals.get("flagged"):
            continue
        note = subject(task)
        if rungs == ["resampling"]:
            note += " was unsure at first and was resampled"
        elif rungs:
            note += " was unsure at first; escalation tried " + ", then ".join(rungs)
        if signals.get("flagged"):
            still = f"still unsure (confidence {outcome.confidence.score:.2f})"
            note += f"; it is {still}" if rungs else f" is {still}"
        notes.append(note[0].upper() + note[1:] + ".")
    return " ".join(notes)


def plan_refusal(problems: Iterable[PlanProblem]) -> tuple[str, list[str]]:
    """(answer text, gaps) for a question no valid plan was found for.

    A problem that speaks of the question ("the question asks for a sum, but
    the plan never computes it"; "… 'rainfall', which none of the tools
    provides") is kept; one that speaks of the planner's own steps ("task
    't2': repeats task 't1'") is summarised, since the reader never saw them.
    """
    reasons: list[str] = []
    internal = 0
    for problem in problems:
        text = _PREFIX.sub("", _PREFIX.sub("", problem.message.strip()))
        if not text or _INTERNAL.search(text):
            internal += 1
        elif text not in reasons:
            reasons.append(text)
    if internal and not reasons:
        reasons.append("no plan the tools could carry out was found for it")
    text = (
        "I could not find a reliable way to answer this with the tools available, "
        "so I will not guess: " + "; ".join(reasons) + "."
    )
    return text, reasons


__all__ = [
    "abstention",
    "describe",
    "escalation_notes",
    "gaps",
    "missing",
    "plan_refusal",
    "subject",
]
