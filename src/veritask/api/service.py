"""RunService: the runs this server drives, as asyncio tasks in its own process.

Routes never touch an Orchestrator directly: they ask the service to start,
cancel or resume a run, and read the run's state from the store (state is
`fold(events)`, so a run driven by another process shows up the same way).
The service also wakes the SSE streams when a run it drives writes events.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from veritask.api.idempotency import IdempotencyKeys, keys_for
from veritask.config import Budget, Settings
from veritask.errors import PlanError, RunLocked, RunNotFoundError, UserError
from veritask.pipeline.orchestrator import Orchestrator, load_plan, new_run_id
from veritask.plan.validation import validate_plan
from veritask.runtime.result import RunResult
from veritask.runtime.state import RunState, fold
from veritask.store import RunStore
from veritask.store.base import NewEvent
from veritask.types import Event, EventType, Plan, RunStatus

log = logging.getLogger("veritask.api")


@dataclass(frozen=True)
class RunOptions:
    """What a request may choose per run; None means the server's configuration."""

    model: str | None = None
    budget: Budget | None = None
    toolkits: tuple[str, ...] | None = None


OrchestratorFactory = Callable[[RunStore, RunOptions], Orchestrator]
"""Builds the Orchestrator for runs with these options, on the server's store.

Tests pass one that builds a ScriptedModel-backed Orchestrator."""


@dataclass(frozen=True)
class ApiConfig:
    """Server limits, separate from Settings because only the HTTP layer needs them."""

    api_keys: tuple[str, ...] = ()
    max_body_bytes: int = 1_000_000
    poll_interval_s: float = 0.5
    """How often an SSE stream re-reads the store when nothing woke it (runs driven
    by another process only show up this way)."""
    keepalive_s: float = 15.0


def default_factory(settings: Settings) -> OrchestratorFactory:
    """Orchestrators as `veritask run` builds them, from `settings`."""

    def make(store: RunStore, options: RunOptions) -> Orchestrator:
        return Orchestrator(
            store,
            settings=settings,
            model=options.model,
            budget=options.budget,
            toolkits=list(options.toolkits) if options.toolkits is not None else None,
        )

    return make


@dataclass
class _Driven:
    task: asyncio.Task[RunResult]
    cancelled: bool = False


@dataclass
class RunService:
    """Starts, cancels and resumes runs in this process; see the module docstring."""

    store: RunStore
    factory: OrchestratorFactory
    keys: IdempotencyKeys | None = None
    _orchs: dict[RunOptions, Orchestrator] = field(default_factory=dict)
    _driven: dict[str, _Driven] = field(default_factory=dict)
    _errors: dict[str, str] = field(default_factory=dict)
    _changed: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def __post_init__(self) -> None:
        if self.keys is None:
            self.keys = keys_for(self.store)

    # -- orchestrators -------------------------------------------------------

    def orchestrator(self, options: RunOptions | None = None) -> Orchestrator:
        """One Orchestrator per distinct options, built once (toolkits are costly to
        index) and listened to so SSE streams wake as soon as events are durable."""
        options = options or RunOptions()
        orch = self._orchs.get(options)
        if orch is None:
            orch = self.factory(self.store, options)
            orch.listeners.append(self._on_event)
            self._orchs[options] = orch
        return orch

    def _on_event(self, _event: Event) -> None:
        # Called where the event was flushed; normally the loop's thread, but be safe.
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait_for_events(self, timeout: float) -> None:
        """Return when a run driven here wrote events, or after `timeout` seconds."""
        if self._changed is None:
            self._changed = asyncio.Event()
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)

    # -- starting ------------------------------------------------------------

    def start_question(
        self,
        question: str,
        *,
        mode: str = "orchestrated",
        options: RunOptions | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[str, bool]:
        """Start answering `question` in the background: (run_id, replayed)."""
        if not question.strip():
            raise UserError("the question is empty; ask something")
        orch = self.orchestrator(options)
        from veritask.pipeline.question import MODES

        if mode not in MODES:
            raise UserError(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
        fingerprint = _fingerprint({"question": question, "mode": mode, "options": options})
        run_id, replayed = self._claim(idempotency_key, fingerprint)
        if not replayed:
            self._spawn(run_id, orch.arun(question, mode=mode, run_id=run_id))
        return run_id, replayed

    def start_plan(
        self,
        raw: dict[str, Any],
        *,
        options: RunOptions | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[str, bool]:
        """Validate `raw` now (PlanError with every problem) and run it in the background."""
        orch = self.orchestrator(options)
        plan = load_plan(raw)
        self._check_runnable(plan, orch)
        fingerprint = _fingerprint({"plan": raw, "options": options})
        run_id, replayed = self._claim(idempotency_key, fingerprint)
        if not replayed:
            self._spawn(run_id, orch.aexecute(plan, run_id=run_id))
        return run_id, replayed

    @staticmethod
    def _check_runnable(plan: Plan, orch: Orchestrator) -> None:
        problems = validate_plan(plan, orch.registry)
        if problems:
            raise PlanError(problems)
        declared = sorted({t.tool for t in plan.tasks if orch.registry.get(t.tool).declared_only})
        if declared:
            raise UserError(f"the plan calls tools declared without an implementation: {declared}")

    def _claim(self, key: str | None, fingerprint: str) -> tuple[str, bool]:
        run_id = new_run_id()
        if key is None or self.keys is None:
            return run_id, False
        bound = self.keys.claim(key, run_id, fingerprint)
        if bound is None:
            return run_id, False
        if bound[1] != fingerprint:
            raise UserError(
                "this Idempotency-Key was already used for a different request; "
                "use a new key for a new run"
            )
        return bound[0], True

    def _spawn(self, run_id: str, work: Coroutine[Any, Any, RunResult]) -> None:
        self._loop = asyncio.get_running_loop()
        task = self._loop.create_task(work, name=f"veritask run {run_id}")
        self._driven[run_id] = _Driven(task)
        task.add_done_callback(lambda t: self._finished(run_id, t))

    def _finished(self, run_id: str, task: asyncio.Task[RunResult]) -> None:
        driven = self._driven.pop(run_id, None)
        if task.cancelled():
            if driven is not None and driven.cancelled:
                self._mark_interrupted(run_id)
        elif (exc := task.exception()) is not None:
            self._errors[run_id] = str(exc) or type(exc).__name__
            if not isinstance(exc, UserError):
                log.error("run %s failed: %r", run_id, exc, exc_info=exc)
        self._wake()

    def _mark_interrupted(self, run_id: str) -> None:
        """A run cancelled before its scheduler ran (while planning) has no RunInterrupted
        yet; write one so the log says how it ended. Its driver's lease is released by now."""
        events = self.store.events(run_id)
        if not events or events[-1].type in (EventType.RUN_INTERRUPTED, EventType.RUN_FINISHED):
            return
        # If another driver took the run over meanwhile (RunLocked), its log has the word.
        with contextlib.suppress(RunLocked):
            self.store.append(
                run_id,
                [
                    NewEvent(
                        EventType.RUN_INTERRUPTED,
                        {"status": RunStatus.INTERRUPTED.value, "reason": "cancelled"},
                    )
                ],
            )

    # -- controlling ---------------------------------------------------------

    def is_active(self, run_id: str) -> bool:
        """Whether this server is driving the run right now."""
        return run_id in self._driven

    def error(self, run_id: str) -> str | None:
        """Why a run started here failed without finishing its log, if it did."""
        return self._errors.get(run_id)

    async def cancel(self, run_id: str, timeout: float = 10.0) -> bool:
        """Cancel the task driving `run_id` and wait until it has written RunInterrupted.

        False if this server is not driving it. The tools' own tasks are
        cancelled by the scheduler; the run stays resumable.
        """
        driven = self._driven.get(run_id)
        if driven is None:
            return False
        driven.cancelled = True
        driven.task.cancel()
        await asyncio.wait([driven.task], timeout=timeout)
        return True

    def resume(self, run_id: str, options: RunOptions | None = None) -> None:
        """Continue an interrupted run in the background.

        RunNotFoundError for an unknown run, RunLocked if it is driven (here or
        by another live process), UserError if it already finished.
        """
        state = self.state(run_id)
        lease = self.store.lease(run_id)
        now = time.time()
        if lease is not None and lease.live(now):
            raise RunLocked(run_id, lease.holder, lease.expires_at - now)
        if self.is_active(run_id):  # between our task's start and its taking the lease
            raise RunLocked(run_id, "this server", 0.0)
        if state.finished:
            raise UserError(f"run {run_id!r} already finished ({state.status.value})")
        self._errors.pop(run_id, None)
        self._spawn(run_id, self.orchestrator(options).aresume(run_id))

    async def wait(self, run_id: str) -> RunResult:
        """The result of a run driven here, once it ends (used by chat completions)."""
        driven = self._driven.get(run_id)
        if driven is not None:
            await asyncio.wait([driven.task])
            exc = None if driven.task.cancelled() else driven.task.exception()
            if exc is not None:
                raise exc
        return RunResult.from_state(self.state(run_id))

    def state(self, run_id: str) -> RunState:
        """The run folded from its events; RunNotFoundError if it has none."""
        events = self.store.events(run_id)
        if not events:
            raise RunNotFoundError(run_id, self.store.url)
        return fold(events)

    async def shutdown(self) -> None:
        """Cancel every run driven here; each writes RunInterrupted and stays resumable."""
        for run_id in list(self._driven):
            await self.cancel(run_id)


def _fingerprint(request: dict[str, Any]) -> str:
    text = json.dumps(request, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()
