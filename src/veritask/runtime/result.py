"""RunResult: what `Orchestrator.execute` returns, derived from the run's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from veritask.plan.refs import RefError, fill_template, lookup, template_refs
from veritask.redact import redact_dict
from veritask.runtime.state import RunState
from veritask.types import Answer, Outcome, OutcomeStatus, Plan, RunStatus, Usage


@dataclass(frozen=True)
class RunResult:
    """The end (or current point) of a run. Everything here is derived from events."""

    run_id: str
    status: RunStatus
    value: Any
    outcomes: dict[str, Outcome]
    plan: Plan | None
    usage: Usage
    gaps: list[str] = field(default_factory=list)
    answer: Answer | None = None
    budget_exceeded: dict[str, Any] | None = None

    def __repr__(self) -> str:
        # Kept short on purpose: asyncio formats the main task's result on shutdown.
        return (
            f"RunResult(run_id={self.run_id!r}, status={self.status.value!r}, "
            f"value={self.value!r:.80}, tasks={len(self.outcomes)})"
        )

    @classmethod
    def from_state(cls, state: RunState) -> RunResult:
        return cls(
            run_id=state.run_id,
            status=state.status,
            value=state.value,
            outcomes=dict(state.outcomes),
            plan=state.plan,
            usage=state.usage,
            gaps=gaps(state),
            answer=state.answer,
            budget_exceeded=state.budget_exceeded,
        )

    def to_json(self) -> dict[str, Any]:
        """The `--json` shape of `veritask exec`: run_id, status, value, tasks, usage, gaps."""
        tasks = []
        if self.plan is None:
            for tid, done in self.outcomes.items():
                tasks.append(
                    {
                        "id": tid,
                        "tool": tool_of(done),
                        "status": done.status.value,
                        "confidence": done.confidence.score,
                        "attempts": done.attempts,
                        "value": done.value,
                        "error": done.error.model_dump() if done.error else None,
                    }
                )
        for task in self.plan.tasks if self.plan else []:
            o = self.outcomes.get(task.id)
            tasks.append(
                {
                    "id": task.id,
                    "tool": task.tool,
                    "status": o.status.value if o else "pending",
                    "confidence": o.confidence.score if o else None,
                    "attempts": o.attempts if o else 0,
                    "value": o.value if o else None,
                    "error": o.error.model_dump() if o and o.error else None,
                }
            )
        # Redacted: this is what people and scripts read (`--json`, the API), not the log.
        return redact_dict(
            {
                "run_id": self.run_id,
                "status": self.status.value,
                "value": self.value,
                "gaps": self.gaps,
                "tasks": tasks,
                "usage": self.usage.model_dump(),
            }
        )


def answer_json(result: RunResult) -> dict[str, Any]:
    """The `--json` shape of `veritask run` (DESIGN.md): `status` is the answer's status
    (answered, partial, abstained, failed), `value` its machine-readable value."""
    answer = result.answer
    usage = result.usage
    tasks = []
    planned = {t.id: t.tool for t in result.plan.tasks} if result.plan else {}
    for tid, o in result.outcomes.items():
        tasks.append(
            {
                "id": tid,
                "tool": planned.get(tid) or tool_of(o),
                "status": o.status.value,
                "confidence": o.confidence.score,
                "attempts": o.attempts,
            }
        )
    return redact_dict(
        {
            "run_id": result.run_id,
            "status": answer.status.value if answer else "failed",
            "answer": answer.text if answer else None,
            "value": answer.value if answer else None,
            "confidence": answer.confidence.score if answer else 0.0,
            "gaps": answer.gaps if answer else result.gaps,
            "usage": {
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cost_usd": usage.cost_usd,
                "latency_s": usage.latency_s,
            },
            "tasks": tasks,
        }
    )


def show_json(result: RunResult) -> dict[str, Any]:
    """The `--json` shape of `veritask show`: that of the command that made the run.

    A question run (`veritask run`) shows `run --json`'s object — `status`,
    `value` and `confidence` are the answer's and mean the same there and
    here — plus `run_status`, the answer's `claims`, and each task's `value`
    and `error`. A plan run (`exec`) shows `exec --json`'s object. Both add
    `evidence`: every source record behind a task that succeeded (a failed
    look-up is a gap, not evidence).
    """
    if result.answer is None:
        payload = result.to_json()
    else:
        payload = answer_json(result)
        payload["run_status"] = result.status.value
        payload["claims"] = [c.model_dump(mode="json") for c in result.answer.claims]
        for task in payload["tasks"]:
            o = result.outcomes.get(task["id"])
            task["value"] = o.value if o else None
            task["error"] = o.error.model_dump() if o and o.error else None
    payload["evidence"] = [
        {"task_id": tid, **src.model_dump(mode="json")}
        for tid, o in result.outcomes.items()
        if o.ok
        for src in o.evidence
    ]
    return redact_dict(payload)


def tool_of(outcome: Outcome) -> str:
    """The tool behind an outcome of a run without a plan (baseline modes), from its
    evidence; every tool call records the tool there."""
    return outcome.evidence[0].tool if outcome.evidence else "?"


def plan_value(plan: Plan, outcomes: dict[str, Outcome]) -> tuple[Any, bool]:
    """(value, complete): the filled answer template, or the final task's value.

    A run whose template has a slot no task filled has no value (None), never
    a placeholder; the gaps name what is missing.
    """
    values = {tid: o.value for tid, o in outcomes.items() if o.status is OutcomeStatus.SUCCEEDED}
    if plan.answer_template is not None:
        complete = True
        for ref in template_refs(plan.answer_template):
            try:
                lookup(ref, values)
            except RefError:
                complete = False
        if not complete:
            return None, False  # a run that did not establish its value has none
        return fill_template(plan.answer_template, values), True
    final = outcomes.get(plan.final_task_id)
    if final is not None and final.ok:
        return final.value, True
    return None, False


def gaps(state: RunState) -> list[str]:
    """One sentence per task that did not succeed, and for a spent budget."""
    out = []
    plan = state.plan
    for task in plan.tasks if plan else []:
        o = state.outcomes.get(task.id)
        if o is None:
            if state.finished or state.status is RunStatus.INTERRUPTED:
                out.append(f"{task.id} ({task.tool}) did not run")
            continue
        if o.status is OutcomeStatus.SUCCEEDED:
            continue
        reason = o.error.message if o.error else o.status.value
        out.append(f"{task.id} ({task.tool}) {o.status.value}: {reason}")
    if state.budget_exceeded:
        b = state.budget_exceeded
        out.append(f"budget for {b.get('resource')} exceeded ({b.get('used')} of {b.get('limit')})")
    return out
