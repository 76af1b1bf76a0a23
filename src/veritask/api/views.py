"""Run state → JSON for the API and the web view: the RunResult fields plus what a
viewer needs to draw the plan (each task's dependencies and depth in the DAG)."""

from __future__ import annotations

from typing import Any

from veritask.plan.validation import dependencies
from veritask.redact import redact_dict
from veritask.runtime.result import RunResult, answer_json
from veritask.runtime.state import RunState
from veritask.tracing.spans import trace_id_hex
from veritask.types import Plan, RunSummary


def depths(plan: Plan) -> dict[str, int]:
    """Task id → its layer: 0 for tasks with no dependencies, else 1 + the deepest one.

    The plan is validated (acyclic) before it is logged, so this terminates.
    """
    deps = {t.id: dependencies(t) & {u.id for u in plan.tasks} for t in plan.tasks}
    out: dict[str, int] = {}

    def depth(tid: str) -> int:
        if tid not in out:
            out[tid] = 1 + max((depth(d) for d in deps[tid]), default=-1)
        return out[tid]

    for tid in deps:
        depth(tid)
    return out


def run_detail(state: RunState, *, active: bool, error: str | None = None) -> dict[str, Any]:
    """`GET /v1/runs/{id}`: status, plan, outcomes, answer, confidence, gaps, usage.

    `status` is the run's (running, succeeded, partial, failed, interrupted);
    `answer.status` is the answer's (answered, partial, abstained, failed).
    """
    result = RunResult.from_state(state)
    summary = answer_json(result)
    plan = result.plan
    layer = depths(plan) if plan else {}
    tasks = []
    for row in result.to_json()["tasks"]:
        outcome = result.outcomes.get(row["id"])
        task = plan.task(row["id"]) if plan and row["id"] in layer else None
        if row["status"] == "pending" and row["id"] in state.started:
            row["status"] = "running"
        tasks.append(
            {
                **row,
                "description": task.description if task else "",
                "args": task.args if task else {},
                "deps": sorted(dependencies(task) & layer.keys()) if task else [],
                "depth": layer.get(row["id"], 0),
                "evidence": [s.model_dump(mode="json") for s in outcome.evidence]
                if outcome
                else [],
            }
        )
    answer = result.answer
    # The web view and API clients see credentials as *** (veritask.redact).
    return redact_dict(
        {
            "run_id": result.run_id,
            "trace_id": trace_id_hex(result.run_id),
            "status": result.status.value,
            "active": active,
            "goal": state.goal,
            "mode": state.options.get("mode"),
            "answer": answer.model_dump(mode="json") if answer else None,
            "value": result.value if answer is None else answer.value,
            "confidence": summary["confidence"] if answer else None,
            "gaps": summary["gaps"],
            "usage": summary["usage"],
            "plan": plan.model_dump(mode="json") if plan else None,
            "tasks": tasks,
            "last_seq": state.last_seq,
            "started_at": state.started_at.isoformat() if state.started_at else None,
            "finished_at": state.finished_at.isoformat() if state.finished_at else None,
            "error": error,
        }
    )


def run_line(summary: RunSummary, *, active: bool) -> dict[str, Any]:
    """One entry of `GET /v1/runs`."""
    return {**summary.model_dump(mode="json"), "active": active}
