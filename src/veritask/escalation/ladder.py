"""The escalation ladder: spend more only where confidence is low, within budget.

A result under its threshold climbs rungs — resample (self-consistency),
a stronger model, a bounded deep agent — until one brings it over the
threshold or the rungs run out. Before each rung the remaining budget is
checked against the rung's estimated cost, and a rung that cannot fit is
skipped rather than started. Every rung taken or skipped is reported, so
the answer can say what was escalated and what it cost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from veritask.budget import BudgetMeter
from veritask.errors import BudgetExceeded
from veritask.types import Usage

T = TypeVar("T")


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """What a rung produced: a result and its confidence (None when it found nothing)."""

    result: T | None
    confidence: float


@dataclass(frozen=True)
class Rung(Generic[T]):
    """One way to try harder. `estimated_tokens`/`estimated_calls` gate it on the budget."""

    name: str
    run: Callable[[], Awaitable[Attempt[T]]]
    estimated_tokens: int = 0
    estimated_calls: int = 1
    unavailable: str = ""
    """Why this rung cannot be taken at all (no stronger model configured): logged as skipped."""


@dataclass(frozen=True)
class Step:
    """The record of one rung: logged as an `Escalated` event."""

    rung: str
    taken: bool
    before: float
    after: float
    usage: Usage
    reason: str = ""
    improved: Any = field(default=None, compare=False)
    """The rung's result when it became the best so far (what a resumed climb restores)."""

    def as_event(self, target: str) -> dict[str, Any]:
        return {
            "target": target,
            "rung": self.rung,
            "taken": self.taken,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "usage": self.usage.model_dump(),
        }


@dataclass
class Climbed(Generic[T]):
    """Where the climb ended: the best result, its confidence, and every step taken."""

    result: T | None
    confidence: float
    steps: list[Step] = field(default_factory=list)


def _fits(rung: Rung[Any], meter: BudgetMeter | None) -> str:
    """Why `rung` cannot fit the remaining budget, or '' when it can."""
    if meter is None:
        return ""
    b, used = meter.budget, meter.used
    tokens_left = meter.remaining_tokens()
    if tokens_left is not None and rung.estimated_tokens > tokens_left:
        return f"needs ~{rung.estimated_tokens} tokens, {tokens_left} left"
    if (
        b.max_model_calls is not None
        and used.model_calls + rung.estimated_calls > b.max_model_calls
    ):
        return f"needs {rung.estimated_calls} model call(s), budget allows {b.max_model_calls}"
    seconds = meter.remaining_seconds()
    if seconds is not None and seconds <= 0:
        return "no time left"
    return ""


async def climb(
    rungs: Sequence[Rung[T]],
    *,
    start: Attempt[T],
    threshold: float,
    meter: BudgetMeter | None,
    on_step: Callable[[Step], None] | None = None,
) -> Climbed[T]:
    """Climb `rungs` while there is no result or the best confidence is under `threshold`.

    A rung's result replaces the current one if there was none or it is more
    confident. Running out of budget inside a rung ends the climb with what is
    best so far.
    """
    best = Climbed(start.result, start.confidence)
    for rung in rungs:
        if best.result is not None and best.confidence >= threshold:
            break
        before = best.confidence
        used_before = meter.used if meter is not None else Usage()
        reason = rung.unavailable or _fits(rung, meter)
        if reason:
            step = Step(rung.name, False, before, before, Usage(), reason)
        else:
            try:
                attempt = await rung.run()
            except BudgetExceeded as exc:
                attempt, reason = Attempt[T](None, 0.0), f"budget ran out: {exc}"
            improved = attempt.result is not None and (
                best.result is None or attempt.confidence > best.confidence
            )
            if improved:
                best.result, best.confidence = attempt.result, attempt.confidence
            spent = _spent(used_before, meter)
            step = Step(
                rung.name,
                True,
                before,
                best.confidence,
                spent,
                reason,
                improved=best.result if improved else None,
            )
        best.steps.append(step)
        if on_step is not None:
            on_step(step)
        if reason.startswith("budget ran out"):
            break
    return best


def _spent(before: Usage, meter: BudgetMeter | None) -> Usage:
    if meter is None:
        return Usage()
    now = meter.used
    return Usage(
        input_tokens=now.input_tokens - before.input_tokens,
        output_tokens=now.output_tokens - before.output_tokens,
        cost_usd=max(0.0, now.cost_usd - before.cost_usd),
        model_calls=now.model_calls - before.model_calls,
    )
