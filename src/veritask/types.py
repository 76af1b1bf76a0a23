"""The core types that cross a boundary: parsed from a model, sent over HTTP,
stored as events. They are frozen pydantic models so that they validate on the
way in and round-trip through JSON unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

JSONValue = Any
"""A value that survives `json.dumps` (pydantic checks it at the edges)."""

TASK_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


M = TypeVar("M", bound=BaseModel)


def trusted(cls: type[M], **values: Any) -> M:
    """Build `cls` from a complete set of already-valid field values, skipping validation.

    For the runtime's hot path only (an Outcome per task, an Event per step),
    where every value was built by veritask itself; `model_construct` costs
    more because it re-derives defaults. Every field must be given.
    """
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


class Backoff(_Frozen):
    """Exponential backoff between attempts: initial * factor**n, capped at `max_s`.

    `jitter` is the fraction of each delay that is randomised (0 = none,
    1 = anywhere between 0 and the full delay), so that many retrying tasks
    do not hit a recovering source at the same moment.
    """

    initial_s: float = Field(default=0.2, ge=0)
    factor: float = Field(default=2.0, ge=1)
    max_s: float = Field(default=10.0, ge=0)
    jitter: float = Field(default=0.5, ge=0, le=1)

    def delay(self, retry_number: int, rand: float) -> float:
        """Delay before retry `retry_number` (1 = first retry); `rand` in [0, 1)."""
        base = min(self.max_s, self.initial_s * self.factor ** max(0, retry_number - 1))
        return base * (1 - self.jitter) + base * self.jitter * rand


class Policy(_Frozen):
    """How one task is run. Fields left `None` inherit from the tool, then the run.

    Conservative defaults: three attempts, only retryable errors are retried.
    """

    max_attempts: int | None = Field(default=None, ge=1, le=100)
    backoff: Backoff | None = None
    timeout_s: float | None = Field(default=None, gt=0)
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    on_low_confidence: Literal["escalate", "accept", "fail"] | None = None
    fallback: Literal["accept", "fail"] | None = None
    """What `escalate` does when no rung brings the result over `min_confidence`."""
    optional: bool | None = None

    def merged_over(self, base: Policy) -> Policy:
        """This policy's set fields over `base`'s."""
        data = base.model_dump(exclude_none=True)
        data.update(self.model_dump(exclude_none=True))
        return Policy.model_validate(data)


DEFAULT_POLICY = Policy(
    max_attempts=3,
    backoff=Backoff(),
    timeout_s=60.0,
    min_confidence=0.5,
    on_low_confidence="escalate",
    fallback="accept",
    optional=False,
)


class Task(_Frozen):
    """One step of a plan: call `tool` with `args`.

    A string arg `"$t3"` is replaced by task t3's value, `"$t3.population"` by
    one field of it; references may also sit inside longer strings
    (`"$a + 8"`) and nested lists or dicts. Dependencies are derived from the
    references plus the explicit `after` list.
    """

    id: str = Field(pattern=TASK_ID_PATTERN, max_length=64)
    tool: str = Field(min_length=1)
    args: dict[str, JSONValue] = Field(default_factory=dict)
    description: str = ""
    policy: Policy | None = None
    after: list[str] = Field(default_factory=list)


class Plan(_Frozen):
    """A DAG of tasks toward `goal`.

    The plan's value is its `answer_template` filled from task values
    (`"The total is {$t3}."`) when it has one, else the last task's value.
    """

    goal: str = ""
    tasks: list[Task] = Field(min_length=1)
    answer_template: str | None = None

    @property
    def final_task_id(self) -> str:
        return self.tasks[-1].id

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)


class ConfidenceMethod(StrEnum):
    TOOL = "tool"
    LOGPROB = "logprob"
    SELF_CONSISTENCY = "self_consistency"
    VERIFIER = "verifier"
    COMPOSITE = "composite"
    NONE = "none"


class Confidence(_Frozen):
    """How much to trust a value, and the raw numbers behind that judgement."""

    score: float = Field(ge=0, le=1)
    method: ConfidenceMethod = ConfidenceMethod.NONE
    signals: dict[str, JSONValue] = Field(default_factory=dict)


NO_CONFIDENCE = Confidence(score=0.0, method=ConfidenceMethod.NONE)


class Source(_Frozen):
    """Where a value came from, so an answer can cite it."""

    tool: str
    query: dict[str, JSONValue] = Field(default_factory=dict)
    source: str = ""
    record_id: str | None = None
    url: str | None = None
    fields: dict[str, JSONValue] = Field(default_factory=dict)


class Usage(_Frozen):
    """Resources one call, task or run consumed."""

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)
    latency_s: float = Field(default=0.0, ge=0)
    model_calls: int = Field(default=0, ge=0)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            latency_s=self.latency_s + other.latency_s,
            model_calls=self.model_calls + other.model_calls,
        )


class ErrorInfo(_Frozen):
    """A failure as data: its type, what happened, and whether a retry could help."""

    type: str
    message: str
    retryable: bool = False


class OutcomeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"


class Outcome(_Frozen):
    """The result of one task. Terminal: a task has at most one."""

    task_id: str
    status: OutcomeStatus
    value: JSONValue = None
    confidence: Confidence = NO_CONFIDENCE
    evidence: list[Source] = Field(default_factory=list)
    error: ErrorInfo | None = None
    attempts: int = Field(default=0, ge=0)
    usage: Usage = Field(default_factory=Usage)

    @property
    def ok(self) -> bool:
        return self.status is OutcomeStatus.SUCCEEDED


class AnswerStatus(StrEnum):
    ANSWERED = "answered"
    PARTIAL = "partial"
    ABSTAINED = "abstained"
    FAILED = "failed"


class Claim(_Frozen):
    text: str
    task_ids: list[str] = Field(default_factory=list)


class Answer(_Frozen):
    """What a run concludes, with what supports it and what is missing."""

    text: str
    value: JSONValue = None
    status: AnswerStatus
    confidence: Confidence = NO_CONFIDENCE
    claims: list[Claim] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)


class EventType(StrEnum):
    RUN_STARTED = "RunStarted"
    PLAN_PROPOSED = "PlanProposed"
    PLAN_REJECTED = "PlanRejected"
    PLAN_ACCEPTED = "PlanAccepted"
    TASK_SCHEDULED = "TaskScheduled"
    TASK_STARTED = "TaskStarted"
    TASK_RETRYING = "TaskRetrying"
    TASK_SUCCEEDED = "TaskSucceeded"
    TASK_FAILED = "TaskFailed"
    TASK_SKIPPED = "TaskSkipped"
    TASK_UNKNOWN = "TaskUnknown"
    TASK_SETTLED = "TaskSettled"
    ESCALATED = "Escalated"
    ANSWER_ASSEMBLED = "AnswerAssembled"
    BUDGET_EXCEEDED = "BudgetExceeded"
    RUN_INTERRUPTED = "RunInterrupted"
    RUN_RESUMED = "RunResumed"
    RUN_FINISHED = "RunFinished"


TERMINAL_TASK_EVENTS = frozenset(
    {
        EventType.TASK_SUCCEEDED,
        EventType.TASK_FAILED,
        EventType.TASK_SKIPPED,
        EventType.TASK_UNKNOWN,
    }
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(_Frozen):
    """One step of a run. Append-only; `seq` is gap-free per run, from 1."""

    run_id: str
    seq: int = Field(ge=1)
    at: datetime = Field(default_factory=utcnow)
    type: EventType
    data: dict[str, JSONValue] = Field(default_factory=dict)

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class RunSummary(_Frozen):
    """One line of `veritask runs`."""

    run_id: str
    status: RunStatus
    goal: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tasks: int = 0
    events: int = 0


__all__ = [
    "DEFAULT_POLICY",
    "NO_CONFIDENCE",
    "TERMINAL_TASK_EVENTS",
    "Answer",
    "AnswerStatus",
    "Backoff",
    "Claim",
    "Confidence",
    "ConfidenceMethod",
    "ErrorInfo",
    "Event",
    "EventType",
    "Outcome",
    "OutcomeStatus",
    "Plan",
    "Policy",
    "RunStatus",
    "RunSummary",
    "Source",
    "Task",
    "Usage",
]
