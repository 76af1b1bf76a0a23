"""Runtime: executes given plans against a store, and resumes them.

It knows nothing of questions, planning, modes or escalation: those live in
`veritask.pipeline`, whose `Orchestrator` builds on this class. `execute`
runs a given plan; `resume` continues a run from its event log. Both have
async twins (`aexecute`, `aresume`); the sync versions are for scripts and
the CLI and refuse to run inside an event loop.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from veritask.budget import BudgetMeter
from veritask.config import Budget, Settings, load_settings
from veritask.errors import PlanError, RunNotFoundError, UserError
from veritask.plan.validation import PlanProblem, validate_plan
from veritask.runtime.backends import Backend, make_backend
from veritask.runtime.backends.base import current_run_id
from veritask.runtime.eventlog import EventListener, EventLog
from veritask.runtime.lease import RunLease, hold_lease
from veritask.runtime.outcome_json import dump_outcome
from veritask.runtime.result import RunResult
from veritask.runtime.scheduler import Assembler, RuntimeOptions, Scheduler
from veritask.runtime.state import RunState, fold
from veritask.store import RunStore, open_store
from veritask.tools import default_registry
from veritask.tools.registry import ToolRegistry
from veritask.types import ErrorInfo, EventType, Outcome, OutcomeStatus, Plan, Policy

T = TypeVar("T")


def new_run_id() -> str:
    """Sortable and readable: UTC time plus random suffix."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


MAX_NESTING = 64
"""Levels of lists and dicts a plan may nest: deeper ones crash recursive code paths
(validation, references, the JSON encoder) and no real plan needs them."""


def nesting(value: Any) -> int:
    """How many levels of lists and dicts `value` nests, without recursion."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            break
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((v, depth + 1) for v in item)
    return deepest


MAX_PLAN_BYTES = 16 * 2**20
"""A plan file larger than this is refused before it is read (10,000 tasks take 0.6 MB)."""
MAX_ARG_CHARS = 2**20
"""Characters one string in a plan may hold: every argument is written to the event
log (and to every attempt's span and view), so bulk data belongs in a file or a tool."""


def oversized(value: Any, limit: int = MAX_ARG_CHARS) -> tuple[str, int] | None:
    """(where, length) of the first string in `value` longer than `limit`, if any.

    Walks without recursion and no deeper than MAX_NESTING, like `nesting`.
    """
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str) and len(item) > limit:
            return where or "(root)", len(item)
        if depth > MAX_NESTING:
            continue
        if isinstance(item, Mapping):
            stack.extend((v, f"{where}.{k}".lstrip("."), depth + 1) for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{where}.{i}".lstrip("."), depth + 1) for i, v in enumerate(item))
    return None


_FLAT = frozenset({int, float, bool, type(None)})


def _flat_and_short(args: Mapping[str, Any]) -> bool:
    """Every argument a scalar or a string within MAX_ARG_CHARS: nothing to walk."""
    for value in args.values():
        kind = type(value)
        if kind is str:
            if len(value) > MAX_ARG_CHARS:
                return False
        elif kind not in _FLAT:
            return False
    return True


def _read_plan_file(path: Path) -> Any:
    """The JSON in `path`; every way it can fail is a UserError that says what to fix."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UserError(f"plan file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise UserError(f"cannot read plan file {str(path)!r}: {exc.strerror}") from None
    if size > MAX_PLAN_BYTES:
        raise UserError(
            f"plan file {str(path)!r} is {size / 2**20:.1f} MB; a plan may be at most "
            f"{MAX_PLAN_BYTES // 2**20} MB. Keep bulk data out of the plan: pass a file "
            "path or an id for a tool to read"
        )
    return json.loads(path.read_text())


def load_plan(source: Plan | Mapping[str, Any] | str | Path) -> Plan:
    """A Plan from an object, a dict, or a JSON file path; malformed input is a PlanError.

    Bounded: a file over MAX_PLAN_BYTES is not read, a plan nesting deeper than
    MAX_NESTING or holding a string longer than MAX_ARG_CHARS is refused.
    """
    if isinstance(source, Plan):
        # Built in Python, so never parsed by us: its arguments get the same bounds.
        # Flat arguments (scalars, short strings: nearly every plan) are within them
        # by sight; only the others are walked.
        nested = [{"args": t.args} for t in source.tasks if not _flat_and_short(t.args)]
        if nested:
            _check_shape({"tasks": nested})
        return source
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            data = _read_plan_file(path)
        except FileNotFoundError:
            raise UserError(f"plan file {str(path)!r} does not exist") from None
        except IsADirectoryError:
            raise UserError(f"{str(path)!r} is a directory; pass a plan JSON file") from None
        except UnicodeDecodeError:
            raise UserError(f"plan file {str(path)!r} is not UTF-8 text; save it as JSON") from None
        except OSError as exc:
            raise UserError(f"cannot read plan file {str(path)!r}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise UserError(
                f"plan file {str(path)!r} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}"
            ) from None
        except RecursionError:
            raise UserError(
                f"plan file {str(path)!r} nests too deeply to read; "
                f"keep arguments within {MAX_NESTING} levels"
            ) from None
    else:
        data = source
    _check_shape(data)
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            problems.append(PlanProblem("malformed", f"{loc or '(root)'}: {err['msg']}"))
        raise PlanError(problems) from None


def _check_shape(data: Any) -> None:
    """PlanError when `data` nests deeper than MAX_NESTING or holds a string over
    MAX_ARG_CHARS: deeper plans crash recursive code, larger ones bloat the log."""
    if nesting(data) > MAX_NESTING:
        raise PlanError(
            [
                PlanProblem(
                    "too_deep",
                    f"the plan nests more than {MAX_NESTING} levels deep; keep arguments "
                    "shallower (flatten them, or pass a reference to a task)",
                )
            ]
        )
    found = oversized(data)
    if found is None:
        return
    where, length = found
    raise PlanError(
        [
            PlanProblem(
                "too_large",
                f"{where} is a string of {length:,} characters; a plan argument may hold at "
                f"most {MAX_ARG_CHARS:,} (every argument is written to the event log). Pass a "
                "file path or an id for a tool to read instead",
            )
        ]
    )


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise UserError("called the sync API inside an event loop; await the a-prefixed twin instead")


AssemblerFor = Callable[[RunState], Assembler | None]
"""Given a run's folded state, the assembler its resumed end should use (or None)."""


class Runtime:
    """Runs plans with retries, timeouts, budgets and a durable event log.

    Args:
        store: a RunStore, a URL (`sqlite:///runs.db`, `memory://`) or None for
            the configured default (`sqlite:///.veritask/runs.db`).
        registry: the tools plans may call; defaults to the `@tool` registry.
        backend: `inline` (threads and the event loop) or `process` (each call
            in a child process that may crash or hang without harm).
        budget, policy, concurrency: run-wide limits and task defaults.
        listeners: called with every event once it is durable (live views).
        lease_ttl_s: how long this driver's lease on a run lasts without a heartbeat
            (default: Settings.lease_ttl_s, 15 s); one driver per run.
    """

    def __init__(
        self,
        store: RunStore | str | Path | None = None,
        *,
        registry: ToolRegistry | None = None,
        settings: Settings | None = None,
        backend: str | Backend = "inline",
        concurrency: int | None = None,
        budget: Budget | None = None,
        policy: Policy | None = None,
        listeners: list[EventListener] | None = None,
        options: RuntimeOptions | None = None,
        lease_ttl_s: float | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        self.lease_ttl_s = lease_ttl_s or self.settings.lease_ttl_s
        self._leases: dict[str, RunLease] = {}
        self.store: RunStore = (
            store if isinstance(store, RunStore) else open_store(store or self.settings.store)
        )
        self.registry = registry if registry is not None else default_registry()
        self._backend = backend
        base = options or RuntimeOptions()
        self.options = replace(
            base,
            concurrency=concurrency or base.concurrency or self.settings.concurrency,
            budget=budget or base.budget or self.settings.budget,
            policy=policy or base.policy,
        )
        self.listeners = list(listeners or [])
        from veritask.tracing.otel import listener_from_env

        # Traces are one more view of the event log: attached only when OTEL_* asks.
        tracer = listener_from_env(history=self.store.events)
        if tracer is not None:
            self.listeners.append(tracer)

    # -- sync API ------------------------------------------------------------

    def execute(
        self, plan: Plan | Mapping[str, Any] | str | Path, run_id: str | None = None
    ) -> RunResult:
        """Validate and run `plan`; see `aexecute`."""
        return run_sync(self.aexecute(plan, run_id=run_id))

    def resume(self, run_id: str) -> RunResult:
        """Continue an interrupted run; see `aresume`."""
        return run_sync(self.aresume(run_id))

    def state(self, run_id: str) -> RunState:
        """The run's state folded from its events; RunNotFoundError if there is none."""
        events = self.store.events(run_id)
        if not events:
            raise RunNotFoundError(run_id, self.store.url)
        return fold(events)

    # -- async API -----------------------------------------------------------

    async def aexecute(
        self, plan: Plan | Mapping[str, Any] | str | Path, run_id: str | None = None
    ) -> RunResult:
        """Validate `plan` (raising PlanError with every problem) and run it to the end."""
        plan = load_plan(plan)
        registry = self.plan_registry()
        problems = validate_plan(plan, registry)
        if problems:
            raise PlanError(problems)
        declared = sorted(
            {tool for tool in {t.tool for t in plan.tasks} if registry.get(tool).declared_only}
        )
        if declared:
            raise UserError(
                f"the plan calls {', '.join(map(repr, declared))}, declared in JSON without an "
                "implementation; --import a module that implements them with @tool to run it"
            )
        run_id = run_id or new_run_id()
        async with self.driving(run_id):
            if self.store.has_run(run_id):
                raise UserError(
                    f"run {run_id!r} already exists in {self.store.url}; resume it instead"
                )
            log = self.event_log(run_id)
            log.emit(
                EventType.RUN_STARTED,
                {"goal": plan.goal, "options": self.describe_options()},
            )
            log.emit(EventType.PLAN_ACCEPTED, {"plan": plan.model_dump(mode="json")})
            return await self.drive(plan, log, RunState(run_id=run_id, goal=plan.goal, plan=plan))

    def settle(self, run_id: str, task_id: str, *, done: bool, value: Any = None) -> RunState:
        """Record what happened to an `unknown` task; see `runtime/settle.py`."""
        return run_sync(self.asettle(run_id, task_id, done=done, value=value))

    async def asettle(
        self, run_id: str, task_id: str, *, done: bool, value: Any = None
    ) -> RunState:
        """Async twin of `settle`: under the run's lease, so no driver races it."""
        from veritask.runtime.settle import settlement

        async with self.driving(run_id):
            data = settlement(self.state(run_id), task_id, done=done, value=value)
            log = self.event_log(run_id)
            log.emit(EventType.TASK_SETTLED, data)
            log.flush()
        return self.state(run_id)

    async def aresume(self, run_id: str) -> RunResult:
        """Continue `run_id` from its log.

        Finished tasks are not run again. A task that started but has no
        result is re-run only if its tool is idempotent; otherwise it is
        recorded as `unknown` (never silently run twice) and its dependents
        are skipped.

        Refused with RunLocked while another driver (a live `exec`, another
        `resume`) holds the run's lease; the state is read only once we hold it.
        """
        async with self.driving(run_id):
            return await self._resume_leased(run_id)

    async def _resume_leased(self, run_id: str) -> RunResult:
        state = self.state(run_id)
        if state.finished or state.plan is None:
            return RunResult.from_state(state)
        plan = state.plan
        found = validate_plan(plan, self.plan_registry())
        problems = [p for p in found if p.code == "unknown_tool"]
        if problems:
            raise PlanError(problems)
        log = self.event_log(run_id)
        log.emit(EventType.RUN_RESUMED, {"pending": state.pending_task_ids()})
        outcomes = dict(state.outcomes)
        for tid, attempt in state.started.items():
            if self.plan_registry().get(plan.task(tid).tool).idempotent:
                continue
            outcome = Outcome(
                task_id=tid,
                status=OutcomeStatus.UNKNOWN,
                attempts=attempt,
                error=ErrorInfo(
                    type="Interrupted",
                    message=(
                        "started before the run was interrupted and has no result; its tool is "
                        "not idempotent, so it was not run again. Check whether it happened and "
                        f"settle it: veritask settle {run_id} {tid} --done VALUE | --not-done "
                        "(or mark the tool @tool(idempotent=True) if repeating it is safe)"
                    ),
                ),
            )
            outcomes[tid] = outcome
            log.emit(EventType.TASK_UNKNOWN, {"task_id": tid, "outcome": dump_outcome(outcome)})
        assembler = self.assembler_for(state)
        return await self.drive(plan, log, replace(state, outcomes=outcomes, started={}), assembler)

    @asynccontextmanager
    async def driving(self, run_id: str) -> AsyncIterator[RunLease]:
        """Hold `run_id`'s lease (with heartbeat) for the body: one driver per run.

        RunLocked if another live driver holds it; LeaseLost out of the body if
        the lease is lost midway. `event_log(run_id)` writes under this lease.
        """
        async with hold_lease(self.store, run_id, self.lease_ttl_s) as lease:
            self._leases[run_id] = lease
            try:
                yield lease
            finally:
                self._leases.pop(run_id, None)

    def event_log(self, run_id: str) -> EventLog:
        """The write side of `run_id`'s log, carrying our lease token if we drive it."""
        lease = self._leases.get(run_id)
        return EventLog(
            self.store, run_id, self.listeners, lease=lease.token if lease is not None else None
        )

    def plan_registry(self) -> ToolRegistry:
        """The tools a plan may call: `registry`, plus what a subclass adds (the
        pipeline's Orchestrator adds its model workers and `deep_agent`)."""
        return self.registry

    def assembler_for(self, state: RunState) -> Assembler | None:
        """The assembler a resumed run ends with; a plain plan run has none.

        The pipeline's Orchestrator overrides this to rebuild the answer
        assembler of a planned question from the logged plan confidence.
        """
        return None

    async def drive(
        self,
        plan: Plan,
        log: EventLog,
        state: RunState,
        assembler: Assembler | None = None,
        meter: BudgetMeter | None = None,
    ) -> RunResult:
        """Run a validated plan from `state`, writing to `log` (used by run, execute, resume)."""
        backend = make_backend(self._backend)
        run_token = current_run_id.set(log.run_id)  # tool calls' tasks inherit it
        try:
            scheduler = Scheduler(
                plan, self.plan_registry(), log, backend, self.options, state, assembler, meter
            )
            final = await scheduler.run()
        finally:
            current_run_id.reset(run_token)
            if isinstance(self._backend, str):
                await backend.aclose()
        return RunResult.from_state(replace(final, goal=plan.goal))

    def describe_options(self) -> dict[str, Any]:
        """Run options as logged in RunStarted."""
        return {
            "backend": self._backend
            if isinstance(self._backend, str)
            else type(self._backend).__name__,
            "concurrency": self.options.concurrency,
            "budget": (self.options.budget or Budget()).model_dump(exclude_none=True),
        }
