"""A question end to end: plan it, run the plan, assemble a grounded answer.

Every step is an event: each sampled plan (`PlanProposed`), the rejection or
acceptance of the plan, the tasks, the answer. A question the planner cannot
turn into a valid plan ends `failed` with the problems named, and the answer
abstains rather than guessing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from veritask.assembler import assemble_from_template
from veritask.assembler.wording import plan_refusal
from veritask.budget import BudgetMeter, bind_meter, unbind_meter
from veritask.config import Budget
from veritask.errors import BudgetExceeded, PlanError
from veritask.escalation.ladder import Attempt, Rung, Step, climb
from veritask.pipeline.plan_recall import REUSE_AT, Recall, Recalled, recall, settle
from veritask.planner.checks import UNCOVERED
from veritask.planner.planner import MODEL_FAILED, Candidate, Planner, PlanningResult
from veritask.runtime.eventlog import EventLog
from veritask.runtime.result import RunResult
from veritask.runtime.scheduler import Assembler
from veritask.runtime.state import RunState
from veritask.types import (
    Answer,
    AnswerStatus,
    EventType,
    RunStatus,
    Usage,
)

if TYPE_CHECKING:
    from veritask.pipeline.orchestrator import Orchestrator

T = TypeVar("T")
MODES = ("orchestrated", "single-agent", "static", "rag")
REMEMBER_AT = REUSE_AT
"""Answers at least this confident teach the planner (episodic memory)."""


def plan_assembler(
    plan_confidence: float, threshold: float, context: str = "", source: str = "planner"
) -> Assembler:
    """The assembler a planned run uses; rebuilt on resume from the logged plan confidence.
    `context`: the tools' descriptions, whose names (units, sources) an answer may use;
    `source`: where the plan came from (`planner` or `memory`), kept in the answer's
    confidence signals as `plan_source`."""
    return partial(
        _assemble,
        plan_confidence=plan_confidence,
        threshold=threshold,
        context=context,
        source=source,
    )


def _assemble(
    plan: Any,
    outcomes: Any,
    usage: Usage,
    *,
    plan_confidence: float,
    threshold: float,
    context: str,
    source: str = "planner",
) -> Answer:
    answer = assemble_from_template(
        plan,
        outcomes,
        plan_confidence=plan_confidence,
        threshold=threshold,
        usage=usage,
        context=context,
    )
    confidence = answer.confidence
    signals = {**confidence.signals, "plan_source": source}
    marked = confidence.model_copy(update={"signals": signals})
    return answer.model_copy(update={"confidence": marked})


def _escalation_logger(log: EventLog) -> Callable[[Step], None]:
    def record(step: Step) -> None:
        log.emit(EventType.ESCALATED, step.as_event("plan"))
        log.flush()

    return record


def _candidate_logger(log: EventLog) -> Callable[[Candidate], None]:
    def record(c: Candidate) -> None:
        log.emit(
            EventType.PLAN_PROPOSED,
            {
                "text": c.text,
                "problems": c.problems,
                "round": c.round,
                "valid": c.valid,
                # For traces (a `chat` span per sample): who answered, at what cost.
                "model": c.model,
                "usage": c.usage.model_dump() if c.usage is not None else None,
                "error_type": c.error_type,
            },
        )
        log.flush()

    return record


async def run_question(orch: Orchestrator, question: str, *, mode: str, run_id: str) -> RunResult:
    """Plan and run `question` in `mode`, logging every step under `run_id`."""
    log = orch.event_log(run_id)  # carries the lease Orchestrator.arun holds
    log.emit(
        EventType.RUN_STARTED,
        {"goal": question, "options": {**orch.describe_options(), "mode": mode}},
    )
    log.flush()
    meter = BudgetMeter(question_budget(orch), clock=orch.options.clock)
    if mode == "orchestrated":
        return await _orchestrated(orch, question, log, meter)
    from veritask.pipeline.modes import run_mode

    token = bind_meter(meter)
    try:
        answer = await _bounded(run_mode(mode, question, orch, log), meter, log, "answering")
    except QuestionTimeout as exc:
        return _finish_without_plan(log, _timed_out(exc, meter), meter, status=RunStatus.FAILED)
    finally:
        unbind_meter(token)
    return _finish_without_plan(log, answer, meter)


def _timed_out(exc: QuestionTimeout, meter: BudgetMeter) -> Answer:
    return Answer(
        text=f"I could not answer in time ({exc}), so I will not guess.",
        status=AnswerStatus.ABSTAINED,
        gaps=[str(exc)],
        usage=meter.used,
    )


def question_budget(orch: Orchestrator) -> Budget:
    """The run's budget, with the question's default wall time when it sets none."""
    budget = orch.options.budget or Budget()
    if budget.max_seconds is None:
        budget = budget.model_copy(update={"max_seconds": orch.settings.question_seconds})
    return budget


async def _bounded(pending: Awaitable[T], meter: BudgetMeter, log: EventLog, doing: str) -> T:
    """`pending`, or — when the question's budget runs out first — QuestionTimeout."""
    remaining = meter.remaining_seconds()
    try:
        return await asyncio.wait_for(pending, remaining)
    except TimeoutError:
        limit = meter.budget.max_seconds or 0.0
        log.emit(
            EventType.BUDGET_EXCEEDED,
            {"resource": "seconds", "limit": limit, "used": round(meter.elapsed(), 3)},
        )
        raise QuestionTimeout(
            f"the question's time budget ({limit:g} s) ran out while {doing}"
        ) from None
    except BudgetExceeded as exc:  # charged by a model call that just came back
        log.emit(
            EventType.BUDGET_EXCEEDED,
            {"resource": exc.resource, "limit": exc.limit, "used": exc.used},
        )
        what = "time budget" if exc.resource == "seconds" else f"{exc.resource} budget"
        raise QuestionTimeout(
            f"the question's {what} ({exc.limit:g}{' s' if exc.resource == 'seconds' else ''}) "
            f"ran out while {doing}"
        ) from None


class QuestionTimeout(Exception):
    """The question's budget (time, tokens, calls) ran out before a plan or an answer existed."""


async def _orchestrated(
    orch: Orchestrator, question: str, log: EventLog, meter: BudgetMeter
) -> RunResult:
    planner = orch.planner(on_candidate=_candidate_logger(log))
    remembered = recall(orch.memory, planner, question) if orch.settings.reuse_plans else Recall()
    if remembered.hit is not None:  # a remembered plan fits and passes every check
        return await _run_plan(
            orch, question, log, meter, remembered.hit.planning_result(), recalled=remembered.hit
        )
    token = bind_meter(meter)
    try:
        planned = await _bounded(
            _plan_and_escalate(orch, planner, question, log, meter), meter, log, "planning"
        )
    except QuestionTimeout as exc:
        return _finish_without_plan(log, _timed_out(exc, meter), meter, status=RunStatus.FAILED)
    except PlanError as exc:
        return await _unplanned(orch, question, log, meter, exc)
    finally:
        unbind_meter(token)
    return await _run_plan(orch, question, log, meter, planned, refused=remembered.refused)


async def _unplanned(
    orch: Orchestrator, question: str, log: EventLog, meter: BudgetMeter, exc: PlanError
) -> RunResult:
    """No valid plan: a bounded agent may rescue the question, else say why not."""
    log.emit(EventType.PLAN_REJECTED, {"problems": [str(p) for p in exc.problems]})
    # A question using words no tool covers is not rescued by an agent: nothing it
    # could look up answers it.
    out_of_scope = all(p.code == "out_of_scope" for p in exc.problems) or any(
        UNCOVERED in p.message for p in exc.problems
    )
    rescued = None if out_of_scope else await _deep_agent_rung(orch, question, log, meter)
    if rescued is not None:
        return _finish_without_plan(log, rescued, meter)
    model_broke = all(p.message.startswith(MODEL_FAILED) for p in exc.problems)
    if model_broke:
        text = "The model failed, so there is no answer: " + "; ".join(
            str(p) for p in exc.problems[:5]
        )
        reasons = [str(p) for p in exc.problems]
    else:  # in the reader's words; the planner's diagnostics stay in PlanRejected
        text, reasons = plan_refusal(exc.problems)
    answer = Answer(
        text=text,
        status=AnswerStatus.FAILED if model_broke else AnswerStatus.ABSTAINED,
        gaps=reasons,
        usage=meter.used,
    )
    return _finish_without_plan(log, answer, meter, status=RunStatus.FAILED)


async def _run_plan(
    orch: Orchestrator,
    question: str,
    log: EventLog,
    meter: BudgetMeter,
    planned: PlanningResult,
    *,
    recalled: Recalled | None = None,
    refused: list[dict[str, Any]] | None = None,
) -> RunResult:
    """Run the accepted plan; then teach memory (a planned answer) or settle a reused plan."""
    plan = planned.plan
    accepted: dict[str, Any] = {
        "plan": plan.model_dump(mode="json"),
        "confidence": planned.confidence,
        "votes": planned.votes,
    }
    if recalled is not None:
        accepted.update(recalled.provenance())
    elif refused:
        accepted["memory_refused"] = refused  # remembered shapes that fit but failed a check
    log.emit(EventType.PLAN_ACCEPTED, accepted)
    state = RunState(run_id=log.run_id, goal=question, plan=plan, usage=meter.used)
    assembler = plan_assembler(
        planned.confidence,
        orch.settings.answer_threshold,
        orch.tool_descriptions(),
        source="memory" if recalled is not None else "planner",
    )
    final = await orch.drive(plan, log, state, assembler, meter)
    done = final.answer
    if recalled is not None:
        settle(orch.memory, recalled, done, log.run_id)
    elif (
        done is not None
        and done.status is AnswerStatus.ANSWERED
        and done.confidence.score >= REMEMBER_AT
    ):
        orch.remember(question, plan, done.confidence.score, log.run_id)
    return final


async def _plan_and_escalate(
    orch: Orchestrator, planner: Planner, question: str, log: EventLog, meter: BudgetMeter
) -> PlanningResult:
    planned = await planner.aplan(question)
    return await _escalate_plan(orch, planner, question, planned, log, meter)


PLAN_MIN_CONFIDENCE = 0.6
"""Plans with less sample agreement than this climb the escalation ladder."""


async def _escalate_plan(
    orch: Orchestrator,
    planner: Planner,
    question: str,
    planned: PlanningResult,
    log: EventLog,
    meter: BudgetMeter,
) -> PlanningResult:
    """Resample (self-consistency), then a stronger model if one is routed for `escalate`."""
    per_sample = 900 + planner.settings.max_tokens
    rungs: list[Rung[PlanningResult]] = [
        Rung(
            "resample",
            lambda: _attempt(planner.aresample(question, planned, 4, enough=PLAN_MIN_CONFIDENCE)),
            estimated_tokens=4 * per_sample,
            estimated_calls=4,
        )
    ]
    if orch.settings.routes.get("escalate"):
        stronger = orch.planner(on_candidate=_candidate_logger(log), kind="escalate")
        rungs.append(
            Rung(
                "stronger_model",
                lambda: _attempt(stronger.aplan(question)),
                estimated_tokens=3 * per_sample,
                estimated_calls=3,
            )
        )

    climbed = await climb(
        rungs,
        start=Attempt(planned, planned.confidence),
        threshold=PLAN_MIN_CONFIDENCE,
        meter=meter,
        on_step=_escalation_logger(log),
    )
    return climbed.result or planned


async def _attempt(pending: Awaitable[PlanningResult]) -> Attempt[PlanningResult]:
    try:
        result = await pending
    except PlanError:
        return Attempt(None, 0.0)
    return Attempt(result, result.confidence)


async def _deep_agent_rung(
    orch: Orchestrator, question: str, log: EventLog, meter: BudgetMeter
) -> Answer | None:
    """No valid plan: give a bounded agent a chance, keep its answer only if grounded."""
    from veritask.pipeline.deep_agent import DEEP_AGENT_STEPS, deep_agent, not_worth_it

    rung = Rung(
        "deep_agent",
        lambda: deep_agent(question, orch, log),
        estimated_tokens=DEEP_AGENT_STEPS * 1200,
        estimated_calls=DEEP_AGENT_STEPS,
        unavailable=not_worth_it(orch),
    )
    climbed = await climb(
        [rung],
        start=Attempt(None, 0.0),
        threshold=0.5,
        meter=meter,
        on_step=_escalation_logger(log),
    )
    answer: Answer | None = climbed.result
    if answer is None or climbed.confidence < orch.settings.answer_threshold:
        return None
    return answer


def _finish_without_plan(
    log: EventLog,
    answer: Answer,
    meter: BudgetMeter,
    status: RunStatus | None = None,
) -> RunResult:
    answer = answer.model_copy(update={"usage": meter.used})
    log.emit(EventType.ANSWER_ASSEMBLED, {"answer": answer.model_dump(mode="json")})
    if status is None:
        status = (
            RunStatus.SUCCEEDED
            if answer.status is AnswerStatus.ANSWERED
            else RunStatus.PARTIAL
            if answer.status is AnswerStatus.PARTIAL
            else RunStatus.FAILED
        )
    log.emit(
        EventType.RUN_FINISHED,
        {"status": status.value, "value": answer.value, "usage": meter.used.model_dump()},
    )
    log.flush()
    from veritask.runtime.state import fold

    return RunResult.from_state(fold(log.store.events(log.run_id)))


__all__ = ["MODES", "plan_assembler", "run_question"]
