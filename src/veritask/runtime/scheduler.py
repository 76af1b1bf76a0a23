"""The asyncio DAG scheduler.

One coroutine (the driver) owns the run: it starts ready tasks up to the
concurrency limit, receives finished tasks through a queue, writes events,
and decides what becomes ready, what is skipped and when the run ends.
Each task runs in its own asyncio task that performs its attempts (with
backoff between them) and reports one terminal Outcome. Nothing the driver
knows is lost on a crash: it is all in the event log it writes.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from veritask.budget import BudgetMeter, bind_meter, unbind_meter
from veritask.config import Budget
from veritask.errors import BudgetExceeded, StoreError
from veritask.plan.validation import dependencies
from veritask.runtime.backends.base import OUTCOME_UNKNOWN, Backend
from veritask.runtime.backends.inline import InlineBackend
from veritask.runtime.eventlog import EventLog
from veritask.runtime.inline_choice import InlineChoice
from veritask.runtime.low_confidence import (
    LowConfidenceHook,
    escalate_low,
    low_confidence_error,
    no_answer_error,
    score_of,
    wants_escalation,
)
from veritask.runtime.outcome_json import dump_outcome, jsonable, storable, unstorable_message
from veritask.runtime.policies import effective_policy as effective_policy
from veritask.runtime.policies import plan_policies
from veritask.runtime.result import plan_value
from veritask.runtime.state import RunState
from veritask.runtime.tool_call import AttemptResult, attempt
from veritask.tools.registry import ToolRegistry, ToolResult
from veritask.types import (
    DEFAULT_POLICY,
    NO_CONFIDENCE,
    Answer,
    ErrorInfo,
    EventType,
    Outcome,
    OutcomeStatus,
    Plan,
    Policy,
    RunStatus,
    Usage,
    trusted,
)

Sleep = Callable[[float], Awaitable[None]]
INLINE_BATCH = 256
"""Inline tasks started under one TaskStarted commit."""
Assembler = Callable[[Plan, dict[str, Outcome], Usage], Answer]
"""Builds the run's Answer from its outcomes, before RunFinished is written."""
_TERMINAL = {
    OutcomeStatus.SUCCEEDED: EventType.TASK_SUCCEEDED,
    OutcomeStatus.FAILED: EventType.TASK_FAILED,
    OutcomeStatus.SKIPPED: EventType.TASK_SKIPPED,
    OutcomeStatus.UNKNOWN: EventType.TASK_UNKNOWN,
}


@dataclass
class RuntimeOptions:
    """Knobs of one execution. Clock, sleep and randomness are injectable for tests."""

    concurrency: int | None = None
    """None: the configured concurrency (Settings.concurrency, default 8)."""
    budget: Budget | None = None
    """None: the configured budget (Settings.budget)."""
    policy: Policy = field(default_factory=Policy)
    clock: Callable[[], float] = time.monotonic
    sleep: Sleep = asyncio.sleep
    rand: Callable[[], float] = random.random
    on_low_confidence: LowConfidenceHook | None = None
    """Where a result under its `escalate` task's threshold goes (the pipeline's ladder)."""


@dataclass
class _Finished:
    outcome: Outcome


@dataclass
class _Broken:
    """A task could not write its events (the store failed or refused: lease lost)."""

    error: StoreError


class Scheduler:
    """Drives one run of a validated plan from a (possibly resumed) state."""

    def __init__(
        self,
        plan: Plan,
        registry: ToolRegistry,
        log: EventLog,
        backend: Backend,
        options: RuntimeOptions,
        state: RunState,
        assembler: Assembler | None = None,
        meter: BudgetMeter | None = None,
    ) -> None:
        self.assembler = assembler
        self.plan = plan
        self.registry = registry
        self.log = log
        self.backend = backend
        self.options = options
        self.concurrency = options.concurrency or 8
        self.inline_backend = isinstance(backend, InlineBackend)
        self._direct = False
        self.meter = meter or BudgetMeter(
            options.budget or Budget(), clock=options.clock, used=state.usage
        )
        self.outcomes: dict[str, Outcome] = dict(state.outcomes)
        self.values: dict[str, Any] = {
            tid: o.value for tid, o in state.outcomes.items() if o.status is OutcomeStatus.SUCCEEDED
        }
        self.tasks = {t.id: t for t in plan.tasks}
        self.policies = plan_policies(plan, registry, options.policy)
        self.inline_tasks = InlineChoice(
            {t.id: registry.get(t.tool) for t in plan.tasks if t.tool in registry},
            {tid: p.timeout_s for tid, p in self.policies.items()},
            enabled=self.inline_backend,
            adaptive=getattr(backend, "adaptive", False),
        )
        self.deps = {t.id: dependencies(t) for t in plan.tasks}
        self.dependents: dict[str, list[str]] = {t.id: [] for t in plan.tasks}
        for tid, deps in self.deps.items():
            for d in deps:
                self.dependents[d].append(tid)
        self.waiting_on = {
            tid: sum(1 for d in deps if d not in self.values) for tid, deps in self.deps.items()
        }
        self.ready: deque[str] = deque(
            t.id for t in plan.tasks if t.id not in self.outcomes and self.waiting_on[t.id] == 0
        )
        self.running: dict[str, asyncio.Task[None]] = {}
        self.queue: asyncio.Queue[_Finished | _Broken] = asyncio.Queue()
        self.stopped: BudgetExceeded | None = None

    async def run(self) -> RunState:
        """Run to the end; returns nothing the log does not also hold."""
        token = bind_meter(self.meter)
        try:
            self._skip_downstream_of_existing_failures()
            self._launch_ready()
            turns = 0
            while True:
                if not self.queue.empty():
                    self._drain()
                elif not self._startable():
                    if not self.running:
                        break
                    await self._wait_and_handle()
                turns += 1
                if turns % 64 == 0:
                    await asyncio.sleep(0)  # let cancellation and timers in
                self._launch_ready()
        except asyncio.CancelledError:
            await self._cancel_running("the run was interrupted")
            self.log.emit(EventType.RUN_INTERRUPTED, {"status": RunStatus.INTERRUPTED.value})
            self.log.flush()
            raise
        except StoreError:
            # The log refused us (lease lost) or broke: stop every tool call, write nothing.
            await self._abandon_running()
            raise
        finally:
            unbind_meter(token)
        return self._finish()

    # -- the loop ------------------------------------------------------------

    async def _wait_and_handle(self) -> None:
        remaining = self.meter.remaining_seconds()
        try:
            if remaining is None:
                first = await self.queue.get()
            else:
                first = await asyncio.wait_for(self.queue.get(), remaining + 1e-3)
        except TimeoutError:
            self._stop(self.meter.exceeded() or BudgetExceeded("seconds", 0, 0))
            await self._cancel_running("the run's time budget ran out")
            return
        self._handle(first)
        self._drain()

    def _startable(self) -> bool:
        """Whether `_launch_ready` could start something right now without waiting."""
        if not self.ready or self.stopped is not None:
            return False
        return self.ready[0] in self.inline_tasks or len(self.running) < self.concurrency

    def _drain(self) -> None:
        while not self.queue.empty():
            self._handle(self.queue.get_nowait())

    def _handle(self, msg: _Finished | _Broken) -> None:
        if isinstance(msg, _Broken):
            raise msg.error
        outcome = msg.outcome
        self.running.pop(outcome.task_id, None)
        self._record(outcome)

    def _record(self, outcome: Outcome) -> None:
        tid = outcome.task_id
        stored: tuple[dict[str, Any], str | None] | None = storable(tid, outcome)
        if stored is None:
            outcome = Outcome(
                task_id=tid,
                status=OutcomeStatus.FAILED,
                attempts=outcome.attempts,
                error=ErrorInfo(
                    type="UnstorableValue",
                    message=unstorable_message(outcome.value),
                ),
            )
            stored = {"task_id": tid, "outcome": dump_outcome(outcome)}, None
        self.outcomes[tid] = outcome
        self.log.emit(_TERMINAL[outcome.status], stored[0], stored[1])
        if outcome.ok:
            self.values[tid] = outcome.value
            for dep in self.dependents[tid]:
                self.waiting_on[dep] -= 1
                if self.waiting_on[dep] == 0 and dep not in self.outcomes:
                    self.ready.append(dep)
        else:
            self._skip_dependents(tid)

    def _skip_dependents(self, failed_id: str) -> None:
        stack = list(self.dependents[failed_id])
        while stack:
            tid = stack.pop()
            if tid in self.outcomes or tid in self.running:
                continue
            upstream = next(
                d for d in self.deps[tid] if d in self.outcomes and not self.outcomes[d].ok
            )
            self.outcomes[tid] = outcome = Outcome(
                task_id=tid,
                status=OutcomeStatus.SKIPPED,
                error=ErrorInfo(
                    type="UpstreamFailed",
                    message=f"needs ${upstream}, which {self.outcomes[upstream].status.value}",
                ),
            )
            self.log.emit(
                EventType.TASK_SKIPPED, {"task_id": tid, "outcome": dump_outcome(outcome)}
            )
            stack.extend(self.dependents[tid])

    def _skip_downstream_of_existing_failures(self) -> None:
        for tid, o in list(self.outcomes.items()):
            if not o.ok:
                self._skip_dependents(tid)

    def _launch_ready(self) -> None:
        """Start ready tasks up to the limit; one commit covers everything learned so far."""
        to_start = self._select_ready()
        if self.stopped is not None:
            self._skip_unstarted()
        self.log.flush()
        for tid, inline in to_start:
            if not (inline and self._try_inline(tid)):
                self.running[tid] = asyncio.create_task(self._run_task(tid), name=f"veritask:{tid}")

    def _select_ready(self) -> list[tuple[str, bool]]:
        """Ready tasks to start now (and whether on the loop), each TaskStarted emitted.

        Inline tools run one at a time on the loop, so they do not take a
        concurrency slot; up to INLINE_BATCH of them share one commit. The choice
        made here holds for the batch even if a tool is demoted meanwhile.
        """
        to_start: list[tuple[str, bool]] = []
        threaded = inline = 0
        while self.ready:
            tid = self.ready[0]
            if tid in self.outcomes:
                self.ready.popleft()
                continue
            is_inline = tid in self.inline_tasks
            full = (
                inline >= INLINE_BATCH
                if is_inline
                else len(self.running) + threaded >= self.concurrency
            )
            if full or not self._budget_allows_start():
                break
            self.ready.popleft()
            to_start.append((tid, is_inline))
            inline += is_inline
            threaded += not is_inline
            self.log.emit(EventType.TASK_STARTED, {"task_id": tid, "attempt": 1})
        return to_start

    def _budget_allows_start(self) -> bool:
        if self.stopped is None:
            try:
                self.meter.check()
                self.meter.start_task()
            except BudgetExceeded as exc:
                self._stop(exc)
        return self.stopped is None

    def _stop(self, exc: BudgetExceeded) -> None:
        if self.stopped is None:
            self.stopped = exc
            self.log.emit(
                EventType.BUDGET_EXCEEDED,
                {"resource": exc.resource, "limit": exc.limit, "used": exc.used},
            )

    def _skip_unstarted(self) -> None:
        for task in self.plan.tasks:
            if task.id not in self.outcomes and task.id not in self.running:
                self.outcomes[task.id] = outcome = Outcome(
                    task_id=task.id,
                    status=OutcomeStatus.SKIPPED,
                    error=ErrorInfo(type="BudgetExceeded", message=f"not run: {self.stopped}"),
                )
                self.log.emit(
                    EventType.TASK_SKIPPED,
                    {"task_id": task.id, "outcome": dump_outcome(outcome)},
                )
        self.ready.clear()

    async def _abandon_running(self) -> None:
        """Cancel the running tool calls and wait for them; record nothing."""
        tasks = list(self.running.values())
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.running.clear()

    async def _cancel_running(self, reason: str) -> None:
        tasks = list(self.running.values())
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        while not self.queue.empty():
            self._handle(self.queue.get_nowait())
        if self.stopped is not None:
            for tid in list(self.running):
                self.running.pop(tid)
                self._record(
                    Outcome(
                        task_id=tid,
                        status=OutcomeStatus.FAILED,
                        error=ErrorInfo(type="BudgetExceeded", message=f"cancelled: {reason}"),
                    )
                )
            self._skip_unstarted()
        self.running.clear()

    # -- one task ------------------------------------------------------------

    async def _run_task(self, tid: str, first: AttemptResult | None = None) -> None:
        """All attempts of one task; `first` is an attempt already made inline."""
        task = self.tasks[tid]
        policy = self.policies[tid]
        spec = self.registry.get(task.tool)
        backoff = policy.backoff or DEFAULT_POLICY.backoff
        assert backoff is not None
        number = 1
        started = self.options.clock()
        while True:
            if first is not None:
                result, first = first, None
            else:
                try:
                    result = await attempt(
                        spec,
                        task.args,
                        self.values,
                        self.backend,
                        task_id=tid,
                        timeout_s=policy.timeout_s,
                    )
                except BudgetExceeded as exc:
                    self._stop(exc)
                    spent = ErrorInfo(type="BudgetExceeded", message=str(exc))
                    self._put(tid, OutcomeStatus.FAILED, number, started, error=spent)
                    return
            error = self._conclude(tid, result, number, started)
            if error is None:
                return
            delay = backoff.delay(number, self.options.rand())
            self.log.emit(
                EventType.TASK_RETRYING,
                {"task_id": tid, "attempt": number, "error": error.model_dump(), "delay_s": delay},
            )
            await self.options.sleep(delay)
            number += 1
            self.log.emit(EventType.TASK_STARTED, {"task_id": tid, "attempt": number})
            try:
                self.log.flush()
            except StoreError as exc:
                self.queue.put_nowait(_Broken(exc))  # the driver stops the run
                return

    def _conclude(
        self, tid: str, result: AttemptResult, number: int, started: float
    ) -> ErrorInfo | None:
        """Record the task's outcome after attempt `number`, or return the error to retry."""
        policy = self.policies[tid]
        if result.result is not None:
            r = result.result
            if wants_escalation(policy, r, self.options.on_low_confidence):
                self.running[tid] = asyncio.create_task(self._climb(tid, r, number, started))
                return None  # the task stays running: only its dependents wait
            low = no_answer_error(r) or low_confidence_error(policy, score_of(r))
            status = OutcomeStatus.SUCCEEDED if low is None else OutcomeStatus.FAILED
            self._put(
                tid,
                status,
                number,
                started,
                error=low,
                value=r.value,
                confidence=r.confidence,
                evidence=r.evidence,
            )
            return None
        error = result.error
        assert error is not None
        retry = error.retryable and number < (policy.max_attempts or 1) and self.stopped is None
        if retry:
            return error
        # A remote call whose effect cannot be known is `unknown`, as on resume.
        status = OutcomeStatus.UNKNOWN if error.type == OUTCOME_UNKNOWN else OutcomeStatus.FAILED
        self._put(tid, status, number, started, error=error)
        return None

    async def _climb(self, tid: str, r: ToolResult, number: int, started: float) -> None:
        """Hand a low-confidence result to the hook; record what it concludes."""
        assert self.options.on_low_confidence is not None
        try:
            done = await escalate_low(
                self.options.on_low_confidence,
                task=self.tasks[tid],
                policy=self.policies[tid],
                result=r,
                values=self.values,
                log=self.log,
                meter=self.meter,
            )
        except StoreError as exc:
            self.queue.put_nowait(_Broken(exc))
            return
        except BudgetExceeded as exc:
            self._stop(exc)
            done = ErrorInfo(type="BudgetExceeded", message=str(exc))
        if isinstance(done, ErrorInfo):
            return self._put(tid, OutcomeStatus.FAILED, number, started, error=done)
        gap = no_answer_error(done)  # a hook may end without an answer too
        got = {"value": done.value, "confidence": done.confidence, "evidence": done.evidence}
        status = OutcomeStatus.FAILED if gap else OutcomeStatus.SUCCEEDED
        self._put(tid, status, number, started, error=gap, **got)

    def _try_inline(self, tid: str) -> bool:
        """Run an inline tool's first attempt right here, without a task or a thread.

        True when the attempt settled the task (or handed a retry to a task);
        False when the tool must go through the backend after all.
        """
        spec, started = self.registry.get(self.tasks[tid].tool), self.options.clock()
        result = self.inline_tasks.attempt(tid, spec, self.tasks[tid].args, self.values)
        if result is None:
            return False
        self._direct = True  # record at once: no task is waiting on the queue for this
        try:
            retry = self._conclude(tid, result, 1, started)
        finally:
            self._direct = False
        if retry is not None:
            self.running[tid] = asyncio.create_task(
                self._run_task(tid, first=result), name=f"veritask:{tid}"
            )
        return True

    def _put(
        self,
        tid: str,
        status: OutcomeStatus,
        attempts: int,
        started: float,
        **fields: Any,
    ) -> None:
        # trusted(): every field here was built by this module, so pydantic's
        # validation would only cost time on the hot path of every task.
        usage = trusted(
            Usage,
            input_tokens=0,
            output_tokens=0,
            cost_usd=0.0,
            latency_s=max(0.0, self.options.clock() - started),
            model_calls=0,
        )
        outcome = trusted(
            Outcome,
            task_id=tid,
            status=status,
            value=fields.get("value"),
            confidence=fields.get("confidence") or NO_CONFIDENCE,
            evidence=fields.get("evidence") or [],
            error=fields.get("error"),
            attempts=attempts,
            usage=usage,
        )
        if self._direct:
            self._record(outcome)
        else:
            self.queue.put_nowait(_Finished(outcome))

    # -- the end -------------------------------------------------------------

    def _status(self, value_complete: bool) -> RunStatus:
        """succeeded: every task did. failed: a required task failed or is unknown, or the
        budget ran out before the value existed. partial: only optional tasks (and what
        depends on them) are missing, or the budget ran out after the value existed."""
        outcomes = self.outcomes.values()
        complete_run = self.stopped is None and len(self.outcomes) == len(self.tasks)
        if complete_run and all(o.ok for o in outcomes):
            return RunStatus.SUCCEEDED
        required_broken = any(
            o.status in (OutcomeStatus.FAILED, OutcomeStatus.UNKNOWN)
            and not self.policies[o.task_id].optional
            and not (o.error is not None and o.error.type == "BudgetExceeded")
            for o in outcomes
        )
        if required_broken:
            return RunStatus.FAILED
        if not value_complete and (self.stopped is not None or self.plan.answer_template is None):
            return RunStatus.FAILED
        return RunStatus.PARTIAL

    def _finish(self) -> RunState:
        value, complete = plan_value(self.plan, self.outcomes)
        status = self._status(complete)
        used = self.meter.used
        usage = Usage(
            input_tokens=max(
                sum(o.usage.input_tokens for o in self.outcomes.values()), used.input_tokens
            ),
            output_tokens=max(
                sum(o.usage.output_tokens for o in self.outcomes.values()), used.output_tokens
            ),
            cost_usd=max(sum(o.usage.cost_usd for o in self.outcomes.values()), used.cost_usd),
            model_calls=max(
                sum(o.usage.model_calls for o in self.outcomes.values()), used.model_calls
            ),
            latency_s=self.meter.elapsed(),
        )
        answer = None
        if self.assembler is not None:
            answer = self.assembler(self.plan, self.outcomes, usage)
            self.log.emit(EventType.ANSWER_ASSEMBLED, {"answer": answer.model_dump(mode="json")})
        self.log.emit(
            EventType.RUN_FINISHED,
            {"status": status.value, "value": jsonable(value), "usage": usage.model_dump()},
        )
        self.log.flush()
        budget = None
        if self.stopped is not None:
            budget = {
                "resource": self.stopped.resource,
                "limit": self.stopped.limit,
                "used": self.stopped.used,
            }
        return RunState(
            run_id=self.log.run_id,
            plan=self.plan,
            status=status,
            value=value,
            outcomes=dict(self.outcomes),
            usage=usage,
            budget_exceeded=budget,
            answer=answer,
        )
