"""Core types: JSON round-trips, policy layering, backoff bounds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from veritask.types import (
    Answer,
    AnswerStatus,
    Backoff,
    Claim,
    Confidence,
    ConfidenceMethod,
    ErrorInfo,
    Event,
    EventType,
    Outcome,
    OutcomeStatus,
    Plan,
    Policy,
    Source,
    Task,
    Usage,
)

USAGE = Usage(input_tokens=12, output_tokens=3, cost_usd=0.0015, latency_s=0.25, model_calls=1)
CONFIDENCE = Confidence(
    score=0.75, method=ConfidenceMethod.SELF_CONSISTENCY, signals={"agree": 3, "k": 4}
)
POLICY = Policy(
    max_attempts=4,
    backoff=Backoff(initial_s=0.1, factor=3, max_s=2, jitter=0.25),
    timeout_s=1.5,
    min_confidence=0.6,
    on_low_confidence="fail",
    optional=True,
)
TASK = Task(
    id="t2",
    tool="calc",
    args={"expression": "$t1 + 8", "nested": [{"k": "$t0.population"}, 3, None, 1.5]},
    description="add eight",
    policy=POLICY,
    after=["t0"],
)
SAMPLES: list[BaseModel] = [
    TASK,
    Task(id="bare", tool="calc"),
    POLICY,
    Policy(),
    Plan(
        goal="sum",
        tasks=[Task(id="t1", tool="calc", args={"expression": "1"}), TASK],
        answer_template="Total: {$t2}.",
    ),
    Outcome(
        task_id="t2",
        status=OutcomeStatus.SUCCEEDED,
        value={"population": 67750000, "names": ["France"]},
        confidence=CONFIDENCE,
        evidence=[Source(tool="calc", query={"expression": "1"}, record_id="r1", url="http://x")],
        attempts=2,
        usage=USAGE,
    ),
    Outcome(
        task_id="t3",
        status=OutcomeStatus.FAILED,
        error=ErrorInfo(type="TaskTimeout", message="too slow", retryable=True),
        attempts=3,
    ),
    CONFIDENCE,
    USAGE,
    Answer(
        text="The total is 9.",
        value=9,
        status=AnswerStatus.PARTIAL,
        confidence=CONFIDENCE,
        claims=[Claim(text="total is 9", task_ids=["t1", "t2"])],
        gaps=["t3 (calc) failed: too slow"],
        usage=USAGE,
    ),
    Event(
        run_id="r1",
        seq=7,
        at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        type=EventType.TASK_SUCCEEDED,
        data={"task_id": "t2", "outcome": {"value": [1, 2.5, "x", None, True]}},
    ),
]


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_json_round_trip_is_exact(obj: BaseModel) -> None:
    again = type(obj).model_validate_json(obj.model_dump_json())
    assert again == obj
    assert again.model_dump_json() == obj.model_dump_json()


def test_event_timestamps_are_timezone_aware() -> None:
    naive = Event(run_id="r", seq=1, at=datetime(2026, 1, 1, 12), type=EventType.RUN_STARTED)
    assert naive.at.tzinfo is not None
    assert Event.model_validate_json(naive.model_dump_json()) == naive


def test_event_seq_starts_at_one() -> None:
    with pytest.raises(ValidationError):
        Event(run_id="r", seq=0, type=EventType.RUN_STARTED)


def test_types_are_frozen_and_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        TASK.id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Task.model_validate({"id": "a", "tool": "calc", "argz": {}})
    with pytest.raises(ValidationError):
        Task(id="not an id", tool="calc")


def test_policy_merged_over_takes_set_fields_and_inherits_the_rest() -> None:
    base = Policy(max_attempts=3, timeout_s=60, min_confidence=0.5, optional=False)
    top = Policy(timeout_s=2, optional=True)
    merged = top.merged_over(base)
    assert merged == Policy(max_attempts=3, timeout_s=2, min_confidence=0.5, optional=True)
    assert Policy().merged_over(base) == base
    assert base.merged_over(Policy()) == base


def test_policy_merge_keeps_a_false_value_over_a_true_one() -> None:
    # `False` is a value, not "unset": only None inherits.
    assert Policy(optional=False).merged_over(Policy(optional=True)).optional is False


def test_policy_merge_replaces_backoff_as_a_whole() -> None:
    base = Policy(backoff=Backoff(initial_s=1, factor=3))
    top = Policy(backoff=Backoff(initial_s=0.1))
    assert top.merged_over(base).backoff == Backoff(initial_s=0.1)


def test_backoff_without_jitter_is_exponential_and_capped() -> None:
    b = Backoff(initial_s=0.5, factor=2, max_s=3, jitter=0)
    assert [b.delay(n, 0.9) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


@given(
    initial=st.floats(0, 5),
    factor=st.floats(1, 4),
    max_s=st.floats(0, 30),
    jitter=st.floats(0, 1),
    retry=st.integers(1, 20),
    rand=st.floats(0, 1, exclude_max=True),
)
def test_backoff_delay_stays_within_its_jitter_band(
    initial: float, factor: float, max_s: float, jitter: float, retry: int, rand: float
) -> None:
    b = Backoff(initial_s=initial, factor=factor, max_s=max_s, jitter=jitter)
    base = min(max_s, initial * factor ** (retry - 1))
    delay = b.delay(retry, rand)
    assert base * (1 - jitter) - 1e-9 <= delay <= base + 1e-9
    assert 0 <= delay <= max_s + 1e-9
    assert b.delay(retry, 0.0) <= delay + 1e-9


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValidationError):
        Backoff(factor=0.5)
    with pytest.raises(ValidationError):
        Backoff(jitter=1.5)
    with pytest.raises(ValidationError):
        Policy(max_attempts=0)


def test_usage_adds_field_by_field() -> None:
    total = USAGE + Usage(input_tokens=1, cost_usd=0.0005, model_calls=2)
    assert total == Usage(
        input_tokens=13, output_tokens=3, cost_usd=0.002, latency_s=0.25, model_calls=3
    )


def test_plan_final_task_and_lookup() -> None:
    plan = SAMPLES[4]
    assert isinstance(plan, Plan)
    assert plan.final_task_id == "t2"
    assert plan.task("t1").tool == "calc"
    with pytest.raises(KeyError):
        plan.task("nope")
    with pytest.raises(ValidationError):
        Plan(tasks=[])
