"""Exceptions raised by veritask.

The tree separates the caller's mistakes from failures of a run, so that a CLI
or API can tell "fix your input" from "something broke while running"::

    VeritaskError
    ├── UserError                 the caller must change something
    │   ├── PlanError             a plan failed validation (carries every problem)
    │   ├── UnknownToolError      a task names a tool that is not registered
    │   ├── ConfigError           a setting is missing or malformed
    │   ├── RunNotFoundError      no run with that id in the store
    │   └── RunLocked             another live process holds the run's lease
    ├── ToolError                 a tool call failed (carries `retryable`)
    │   └── TaskTimeout           a tool call ran past its timeout
    ├── BudgetExceeded            a run budget ran out (tokens, USD, seconds, tasks)
    ├── StoreError                the run store could not be read or written
    │   └── LeaseLost             this process no longer holds the run's lease
    └── ModelError                a model provider failed (carries `retryable`)

Exceptions are plain data: they never log, and whoever handles them decides
how to report them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class VeritaskError(Exception):
    """Base of every error veritask raises on purpose."""


class UserError(VeritaskError):
    """The caller's input is wrong; the message says what to change."""


@dataclass(frozen=True)
class PlanProblem:
    """One thing wrong with a plan. `task_id` is None for plan-level problems."""

    code: str
    message: str
    task_id: str | None = None

    def __str__(self) -> str:
        where = f"task {self.task_id!r}" if self.task_id else "plan"
        return f"{where}: {self.message}"


class PlanError(UserError):
    """A plan is invalid. `problems` lists every problem found, not just the first."""

    def __init__(self, problems: Sequence[PlanProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the plan has {len(self.problems)} problem(s):\n{lines}")


class UnknownToolError(UserError):
    """A tool name is not in the registry."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known = list(known)
        hint = ", ".join(sorted(known)) or "none registered"
        super().__init__(
            f"unknown tool {name!r}; register it with @tool or --import its module "
            f"(known tools: {hint})"
        )


class ConfigError(UserError):
    """A configuration value is missing or malformed."""


class RunNotFoundError(UserError):
    """No run with this id exists in the store."""

    def __init__(self, run_id: str, store: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run {run_id!r} in {store}; `veritask runs` lists the runs there")


class RunLocked(UserError):
    """Another driver holds a live lease on the run: one driver per run.

    A UserError (exit code 2): the caller should wait for the other driver,
    or resume once its lease has expired (a killed driver's lease just runs out).
    """

    def __init__(self, run_id: str, holder: str, expires_in_s: float) -> None:
        self.run_id = run_id
        self.holder = holder
        self.expires_in_s = expires_in_s
        secs = max(0, round(expires_in_s))
        super().__init__(
            f"run {run_id} is being driven by {holder} — its lease expires in {secs} s; "
            "wait, or resume after it expires"
        )


class ToolError(VeritaskError):
    """A tool call failed.

    `retryable` is the explicit signal the runtime retries on: a tool raises
    ``ToolError(..., retryable=True)`` for a transient failure. Any other
    exception from a tool is treated as non-retryable.
    """

    def __init__(self, message: str, *, retryable: bool = False, kind: str = "ToolError") -> None:
        self.retryable = retryable
        self.kind = kind
        super().__init__(message)


class TaskTimeout(ToolError):
    """A tool call ran past its timeout. Timeouts are retryable by default."""

    def __init__(self, task_id: str, timeout_s: float) -> None:
        self.task_id = task_id
        self.timeout_s = timeout_s
        super().__init__(
            f"task {task_id!r} ran past its timeout of {timeout_s:g}s",
            retryable=True,
            kind="TaskTimeout",
        )


class BudgetExceeded(VeritaskError):
    """A run budget is spent; the run stops scheduling and returns what it has."""

    def __init__(self, resource: str, limit: float, used: float) -> None:
        self.resource = resource
        self.limit = limit
        self.used = used
        super().__init__(f"run budget for {resource} exceeded: used {used:g} of {limit:g}")


class StoreError(VeritaskError):
    """The run store failed (unreachable, corrupt, or a write conflict)."""


class LeaseLost(StoreError):
    """This process does not hold a live lease on the run, so the store refused its events.

    Raised by `append(..., lease=token)` and `renew_lease` once the lease has
    expired or been taken over; the driver stops: no more events, no more tool calls.
    """

    def __init__(self, run_id: str, detail: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"lost the lease on run {run_id} ({detail}); this process stopped driving it — "
            f"no more events or tool calls. `veritask show {run_id}` shows where it stands"
        )


class ModelError(VeritaskError):
    """A model provider failed. `retryable` marks timeouts, 429 and 5xx."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after_s: float | None = None,
        provider: str = "",
    ) -> None:
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.provider = provider
        super().__init__(message)


__all__ = [
    "BudgetExceeded",
    "ConfigError",
    "LeaseLost",
    "ModelError",
    "PlanError",
    "PlanProblem",
    "RunLocked",
    "RunNotFoundError",
    "StoreError",
    "TaskTimeout",
    "ToolError",
    "UnknownToolError",
    "UserError",
    "VeritaskError",
]
