"""What both baseline modes share: logged tool calls, answer values and confidence.

The baselines call the same tools as an orchestrated run, through the same
worker (`veritask.runtime.tool_call.attempt`) with the same per-tool
timeout, and log every call as a task (`TaskStarted`, then `TaskSucceeded`
or `TaskFailed`), so `veritask show`, `--json` and the benchmark runner
treat their runs exactly like planned ones. What differs is only who
decides which calls to make and who writes the answer.
"""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from veritask.budget import current_meter
from veritask.errors import BudgetExceeded, UnknownToolError
from veritask.models.base import Completion
from veritask.models.confidence import logprob_confidence
from veritask.runtime.backends.inline import InlineBackend
from veritask.runtime.low_confidence import no_answer_error
from veritask.runtime.outcome_json import dump_outcome
from veritask.runtime.policies import effective_policy
from veritask.runtime.tool_call import attempt
from veritask.types import (
    Answer,
    AnswerStatus,
    Confidence,
    ConfidenceMethod,
    ErrorInfo,
    EventType,
    Outcome,
    OutcomeStatus,
    Source,
    Task,
    Usage,
)

if TYPE_CHECKING:
    from veritask.pipeline.orchestrator import Orchestrator
    from veritask.runtime.eventlog import EventLog

MODEL_KIND = "plan"
"""The router kind the baselines use: the planner's, so "same model as orchestrated"
holds even when routes send other kinds (synthesize, verify...) elsewhere."""

FALLBACK_SCORE = 0.5
"""Confidence of a model answer when the provider returns no token logprobs."""

SHORT_VALUE_WORDS = 5
"""A final answer of at most this many words (no number, not a sentence) is itself the value."""


class ToolCalls:
    """Runs tool calls one at a time and logs each as a task `<prefix>1`, `<prefix>2`...

    Each call is one attempt (no retries: a baseline agent sees the error and
    decides itself), with the timeout an orchestrated task of that tool would
    get. It counts against the run's task budget before it starts, and its
    `TaskStarted` is flushed before the tool can have any effect.
    """

    def __init__(self, orch: Orchestrator, log: EventLog, prefix: str) -> None:
        self.orch = orch
        self.log = log
        self.prefix = prefix
        self.outcomes: list[Outcome] = []
        self._backend = InlineBackend()

    async def call(self, tool: str, args: dict[str, Any]) -> Outcome:
        """Run `tool(**args)` once and return its outcome; raises only BudgetExceeded."""
        meter = current_meter()
        if meter is not None:
            meter.check()
            meter.start_task()
        tid = f"{self.prefix}{len(self.outcomes) + 1}"
        query = _jsonable(args)
        self.log.emit(EventType.TASK_STARTED, {"task_id": tid, "attempt": 1})
        self.log.flush()
        started = time.monotonic()
        try:
            outcome = await self._attempt(tid, tool, args, query)
        except BudgetExceeded as exc:
            outcome = _failed(tid, tool, query, ErrorInfo(type="BudgetExceeded", message=str(exc)))
            self._record(outcome, started)
            raise
        return self._record(outcome, started)

    async def _attempt(
        self, tid: str, tool: str, args: dict[str, Any], query: dict[str, Any]
    ) -> Outcome:
        try:
            spec = self.orch.registry.get(tool)
        except UnknownToolError as exc:
            return _failed(tid, tool, query, ErrorInfo(type="UnknownTool", message=str(exc)))
        task = Task(id=tid, tool=tool, args=query)
        timeout = effective_policy(task, self.orch.registry, self.orch.options.policy).timeout_s
        got = await attempt(spec, args, {}, self._backend, task_id=tid, timeout_s=timeout)
        if got.result is None:
            error = got.error or ErrorInfo(type="ToolError", message="the tool failed")
            return _failed(tid, tool, query, error)
        r = got.result
        gap = no_answer_error(r)
        if gap is not None:
            return _failed(tid, tool, query, gap)
        return Outcome(
            task_id=tid,
            status=OutcomeStatus.SUCCEEDED,
            value=r.value,
            confidence=r.confidence or Confidence(score=1.0, method=ConfidenceMethod.TOOL),
            evidence=r.evidence or [Source(tool=tool, query=query)],
            attempts=1,
        )

    def _record(self, outcome: Outcome, started: float) -> Outcome:
        outcome = outcome.model_copy(
            update={"usage": Usage(latency_s=max(0.0, time.monotonic() - started))}
        )
        self.outcomes.append(outcome)
        etype = EventType.TASK_SUCCEEDED if outcome.ok else EventType.TASK_FAILED
        self.log.emit(etype, {"task_id": outcome.task_id, "outcome": dump_outcome(outcome)})
        self.log.flush()
        return outcome

    @property
    def succeeded_ids(self) -> list[str]:
        return [o.task_id for o in self.outcomes if o.ok]

    def gaps(self) -> list[str]:
        """One sentence per failed call, naming the tool and its arguments."""
        out = []
        for o in self.outcomes:
            if o.ok:
                continue
            src = o.evidence[0] if o.evidence else None
            call = f"{src.tool}({_args_text(src.query)})" if src else "?"
            reason = o.error.message if o.error else o.status.value
            out.append(f"{o.task_id} {call} failed: {reason}")
        return out

    async def aclose(self) -> None:
        await self._backend.aclose()


def _failed(tid: str, tool: str, query: dict[str, Any], error: ErrorInfo) -> Outcome:
    # The evidence of a failed call is the call itself, so `show` can name it.
    return Outcome(
        task_id=tid,
        status=OutcomeStatus.FAILED,
        error=error,
        evidence=[Source(tool=tool, query=query)],
        attempts=1,
    )


def _jsonable(args: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(args, default=repr))  # type: ignore[no-any-return]


def _args_text(query: dict[str, Any]) -> str:
    return ", ".join(json.dumps(v, ensure_ascii=False) for v in query.values())


def note_budget(log: EventLog, exc: BudgetExceeded) -> str:
    """Log a spent budget the way the scheduler does; returns the gap sentence."""
    log.emit(
        EventType.BUDGET_EXCEEDED,
        {"resource": exc.resource, "limit": exc.limit, "used": exc.used},
    )
    return f"budget for {exc.resource} exceeded ({exc.used:g} of {exc.limit:g}); stopped early"


_NUMBER = re.compile(
    r"((?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.,])-?\d+(?:\.\d+)?)"
    r"(?:\s+(thousand|million|billion|trillion)\b)?",
    re.IGNORECASE,
)
_SCALE = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}


def parse_value(text: str) -> Any:
    """The machine-readable value of a free-text answer, or None.

    A lone number (commas and "million"-style words allowed) or a sentence
    holding exactly one number gives that number; a short answer without numbers that is not a
    sentence ("Nairobi", "Kinshasa.", "Democratic Republic of the Congo", but
    not "Peru is larger.") is its own value. Anything else has no single value.
    """
    unquoted = text.strip().strip("\"'“”").strip()
    stripped = unquoted.rstrip(".!").strip()
    if not stripped:
        return None
    numbers = _NUMBER.findall(stripped)
    if len(numbers) == 1:
        raw, scale = numbers[0][0].replace(",", ""), _SCALE.get(numbers[0][1].lower(), 1)
        number = Decimal(raw) * scale  # exact: 1.1 million is 1100000, not 1100000.0000000002
        exact = "." not in raw or scale > 1
        return int(number) if exact and number == number.to_integral_value() else float(number)
    sentence = unquoted.endswith((".", "!")) and len(stripped.split()) >= 3
    if not numbers and not sentence and len(stripped.split()) <= SHORT_VALUE_WORDS:
        return stripped
    return None


def answer_confidence(completion: Completion, span: str | tuple[int, int]) -> Confidence:
    """Token-logprob confidence of `span` (text or char range) when the model gave
    logprobs, else a plain 0.5.

    A baseline does no grounding check, so this is the whole of its judgement:
    how sure the model was of the words it wrote.
    """
    found = logprob_confidence(completion, span or None)
    if found.method is ConfidenceMethod.LOGPROB and found.signals.get("tokens"):
        return found
    return Confidence(
        score=FALLBACK_SCORE,
        method=ConfidenceMethod.NONE,
        signals={"reason": str(found.signals.get("reason", "no token logprobs"))},
    )


def model_failed(exc: Exception, gap: str = "the answer call failed") -> Answer:
    """A baseline whose model call failed has no answer: it fails, naming the error,
    rather than abstaining as if the question had been considered."""
    return Answer(
        text=f"The model failed, so there is no answer: {exc}",
        status=AnswerStatus.FAILED,
        gaps=[f"{gap}: {exc}"],
    )


__all__ = [
    "FALLBACK_SCORE",
    "MODEL_KIND",
    "ToolCalls",
    "answer_confidence",
    "model_failed",
    "note_budget",
    "parse_value",
]
