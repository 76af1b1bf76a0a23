"""Run budgets: the meter every task and model call charges.

One `BudgetMeter` lives for one run. The scheduler checks it before starting
a task; model providers charge it after every call through `current_meter()`,
so a runaway loop inside one task is stopped mid-task, not after it.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from veritask.config import Budget
from veritask.errors import BudgetExceeded
from veritask.types import Usage

_current: contextvars.ContextVar[BudgetMeter | None] = contextvars.ContextVar(
    "veritask_budget_meter", default=None
)


@dataclass
class BudgetMeter:
    """Tracks what a run has used against its `Budget`. Not thread-safe by design:
    it is charged from the run's event loop only."""

    budget: Budget
    clock: Callable[[], float] = time.monotonic
    used: Usage = field(default_factory=Usage)
    tasks_started: int = 0
    started_at: float = field(default=0.0)

    def __post_init__(self) -> None:
        if not self.started_at:
            self.started_at = self.clock()
        b = self.budget
        # Checked before every task: with no limits at all there is nothing to compute.
        self._unlimited = all(
            v is None
            for v in (b.max_seconds, b.max_tokens, b.max_usd, b.max_model_calls, b.max_tasks)
        )

    def elapsed(self) -> float:
        return self.clock() - self.started_at

    def charge(self, usage: Usage) -> None:
        """Add `usage`; raise BudgetExceeded if a token, USD or call limit is now passed."""
        self.used = self.used + usage
        self.check()

    def start_task(self) -> None:
        """Count a task start; raise BudgetExceeded if the task limit is reached."""
        b = self.budget
        if b.max_tasks is not None and self.tasks_started >= b.max_tasks:
            raise BudgetExceeded("tasks", b.max_tasks, self.tasks_started + 1)
        self.tasks_started += 1

    def exceeded(self) -> BudgetExceeded | None:
        """The first limit passed, or None."""
        b, u = self.budget, self.used
        checks: list[tuple[str, float | None, float]] = [
            ("seconds", b.max_seconds, self.elapsed()),
            ("tokens", b.max_tokens, u.input_tokens + u.output_tokens),
            ("usd", b.max_usd, u.cost_usd),
            ("model_calls", b.max_model_calls, u.model_calls),
        ]
        for name, limit, value in checks:
            if limit is not None and value > limit:
                return BudgetExceeded(name, limit, value)
        return None

    def check(self) -> None:
        if self._unlimited:
            return
        exc = self.exceeded()
        if exc is not None:
            raise exc

    def remaining_seconds(self) -> float | None:
        if self.budget.max_seconds is None:
            return None
        return max(0.0, self.budget.max_seconds - self.elapsed())

    def remaining_tokens(self) -> int | None:
        if self.budget.max_tokens is None:
            return None
        return max(0, self.budget.max_tokens - self.used.input_tokens - self.used.output_tokens)

    def remaining_usd(self) -> float | None:
        if self.budget.max_usd is None:
            return None
        return max(0.0, self.budget.max_usd - self.used.cost_usd)


def current_meter() -> BudgetMeter | None:
    """The meter of the run this code executes in, if any (model providers charge it)."""
    return _current.get()


def bind_meter(meter: BudgetMeter | None) -> contextvars.Token[BudgetMeter | None]:
    """Make `meter` current for this context; pass the token to `unbind_meter`."""
    return _current.set(meter)


def unbind_meter(token: contextvars.Token[BudgetMeter | None]) -> None:
    _current.reset(token)
