"""Settling an `unknown` task: the user checked the outside world and says what happened.

A non-idempotent task that started before a crash and has no result is
recorded `unknown`: veritask cannot know whether its side effect happened,
so it never runs it again by itself, and the run ends `failed`. The user
looks (was the e-mail sent? the row written?) and settles it — done, with the
value the task produced, or not done. The settlement is an event
(`TaskSettled`), so the log says who decided what; after it the run is
resumable, and `resume` runs what is still pending: the task itself when it
was not done, and every task that was skipped only because of it.
"""

from __future__ import annotations

from typing import Any

from veritask.errors import UserError
from veritask.plan.validation import dependencies
from veritask.runtime.outcome_json import dump_outcome
from veritask.runtime.state import RunState
from veritask.types import Confidence, ConfidenceMethod, Outcome, OutcomeStatus, Source


def settlement(state: RunState, task_id: str, *, done: bool, value: Any = None) -> dict[str, Any]:
    """The `TaskSettled` event data for `task_id`, or UserError saying why it cannot be settled."""
    plan = state.plan
    if plan is None or task_id not in {t.id for t in plan.tasks}:
        known = ", ".join(t.id for t in plan.tasks) if plan else "none"
        raise UserError(f"run {state.run_id} has no task {task_id!r} (tasks: {known})")
    current = state.outcomes.get(task_id)
    if current is None or current.status is not OutcomeStatus.UNKNOWN:
        found = current.status.value if current else "no result yet"
        raise UserError(
            f"task {task_id!r} is {found}, not unknown; only a task whose outcome veritask "
            "could not know is settled by hand"
        )
    data: dict[str, Any] = {
        "task_id": task_id,
        "done": done,
        "unskipped": _unskipped(state, task_id),
    }
    if done:
        tool = plan.task(task_id).tool
        outcome = Outcome(
            task_id=task_id,
            status=OutcomeStatus.SUCCEEDED,
            value=value,
            confidence=Confidence(
                score=1.0, method=ConfidenceMethod.NONE, signals={"settled_by": "user"}
            ),
            evidence=[Source(tool=tool, source="settled by the user after checking")],
            attempts=current.attempts,
        )
        data["outcome"] = dump_outcome(outcome)
    return data


def _unskipped(state: RunState, task_id: str) -> list[str]:
    """Tasks skipped only because `task_id` was unknown (transitively): pending again."""
    plan = state.plan
    assert plan is not None
    freed = {task_id}
    out: list[str] = []
    changed = True
    while changed:
        changed = False
        for task in plan.tasks:
            o = state.outcomes.get(task.id)
            if task.id in freed or o is None or o.status is not OutcomeStatus.SKIPPED:
                continue
            if o.error is None or o.error.type != "UpstreamFailed":
                continue
            blockers = {
                d
                for d in dependencies(task)
                if d in state.outcomes and not state.outcomes[d].ok and d not in freed
            }
            if not blockers:
                freed.add(task.id)
                out.append(task.id)
                changed = True
    return out


__all__ = ["settlement"]
