"""Run state as a fold over events.

Nothing about a run lives only in memory: `fold(events)` rebuilds everything
the scheduler, `veritask show` and `resume` need. Folding is incremental —
`fold(later, initial=fold(earlier))` equals `fold(earlier + later)` — so a
live viewer can apply events as they arrive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from veritask.types import (
    Answer,
    Event,
    EventType,
    Outcome,
    Plan,
    RunStatus,
    Usage,
)


@dataclass(frozen=True)
class RunState:
    """Everything known about a run after some prefix of its events."""

    run_id: str
    last_seq: int = 0
    goal: str = ""
    plan: Plan | None = None
    plan_confidence: float = 1.0
    status: RunStatus = RunStatus.RUNNING
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)
    """Task id → attempt number of tasks started and not yet terminal."""
    retries: dict[str, int] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    budget_exceeded: dict[str, Any] | None = None
    answer: Answer | None = None
    value: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    escalations: list[dict[str, Any]] = field(default_factory=list)
    rejected_plans: list[dict[str, Any]] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"RunState(run_id={self.run_id!r}, status={self.status.value!r}, "
            f"last_seq={self.last_seq}, outcomes={len(self.outcomes)})"
        )

    @property
    def finished(self) -> bool:
        return self.status is not RunStatus.RUNNING and self.status is not RunStatus.INTERRUPTED

    def pending_task_ids(self) -> list[str]:
        """Tasks with no terminal outcome, in plan order."""
        if self.plan is None:
            return []
        return [t.id for t in self.plan.tasks if t.id not in self.outcomes]


_TERMINAL = {
    EventType.TASK_SUCCEEDED,
    EventType.TASK_FAILED,
    EventType.TASK_SKIPPED,
    EventType.TASK_UNKNOWN,
}


class _Folder:
    """Mutable accumulator; `fold` copies the initial state once, then applies in place."""

    def __init__(self, state: RunState) -> None:
        self.s = state
        self.outcomes = dict(state.outcomes)
        self.started = dict(state.started)
        self.retries = dict(state.retries)
        self.escalations = list(state.escalations)
        self.rejected = list(state.rejected_plans)
        self.changes: dict[str, Any] = {}

    def apply(self, ev: Event) -> None:
        self.changes["last_seq"] = ev.seq
        if ev.type in _TERMINAL:
            self._terminal(ev)
        elif ev.type.value.startswith("Task"):
            self._task_progress(ev)
        else:
            self._run_level(ev)

    def _terminal(self, ev: Event) -> None:
        outcome = Outcome.model_validate(ev.data["outcome"])
        self.outcomes[outcome.task_id] = outcome
        self.started.pop(outcome.task_id, None)
        self.changes["usage"] = self.changes.get("usage", self.s.usage) + outcome.usage

    def _task_progress(self, ev: Event) -> None:
        d = ev.data
        if ev.type == EventType.TASK_SETTLED:
            self._settled(ev)
        elif ev.type == EventType.TASK_STARTED:
            self.started[d["task_id"]] = int(d.get("attempt", 1))
        elif ev.type == EventType.TASK_RETRYING:
            self.retries[d["task_id"]] = int(d.get("attempt", 1))

    def _settled(self, ev: Event) -> None:
        """The user settled an `unknown` task: done (with its value) or not done (pending
        again). Tasks skipped only because of it are pending again, and a finished run
        becomes resumable."""
        d = ev.data
        tid = str(d["task_id"])
        if d.get("outcome"):
            self.outcomes[tid] = Outcome.model_validate(d["outcome"])
        else:
            self.outcomes.pop(tid, None)
        for other in d.get("unskipped", []):
            self.outcomes.pop(str(other), None)
        status = self.changes.get("status", self.s.status)
        if status not in (RunStatus.RUNNING, RunStatus.INTERRUPTED):
            self.changes.update(status=RunStatus.INTERRUPTED, finished_at=None)

    def _run_level(self, ev: Event) -> None:
        t, d, ch = ev.type, ev.data, self.changes
        if t == EventType.RUN_STARTED:
            ch.update(goal=d.get("goal", ""), options=d.get("options", {}), started_at=ev.at)
            ch.update(status=RunStatus.RUNNING)
        elif t == EventType.PLAN_ACCEPTED:
            ch["plan"] = Plan.model_validate(d["plan"])
            ch["plan_confidence"] = float(d.get("confidence", 1.0))
        elif t == EventType.PLAN_REJECTED:
            self.rejected.append(d)
        elif t == EventType.ESCALATED:
            self.escalations.append(d)
        elif t == EventType.BUDGET_EXCEEDED:
            ch["budget_exceeded"] = d
        elif t == EventType.ANSWER_ASSEMBLED:
            ch["answer"] = Answer.model_validate(d["answer"])
        elif t == EventType.RUN_RESUMED:
            ch.update(status=RunStatus.RUNNING, finished_at=None)
        elif t in (EventType.RUN_FINISHED, EventType.RUN_INTERRUPTED):
            ch.update(status=RunStatus(d.get("status", RunStatus.INTERRUPTED)), finished_at=ev.at)
            if "value" in d:
                ch["value"] = d["value"]
            if "usage" in d:
                ch["usage"] = Usage.model_validate(d["usage"])

    def result(self) -> RunState:
        return replace(
            self.s,
            outcomes=self.outcomes,
            started=self.started,
            retries=self.retries,
            escalations=self.escalations,
            rejected_plans=self.rejected,
            **self.changes,
        )


def fold(events: Iterable[Event], initial: RunState | None = None, *, run_id: str = "") -> RunState:
    """Apply `events` (in seq order) to `initial`, or to an empty state."""
    it = iter(events)
    first = next(it, None)
    if initial is None:
        initial = RunState(run_id=first.run_id if first else run_id)
    if first is None:
        return initial
    folder = _Folder(initial)
    folder.apply(first)
    for ev in it:
        folder.apply(ev)
    return folder.result()
