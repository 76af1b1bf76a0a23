"""The hand-built outcome dump on the hot path must equal pydantic's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from veritask.runtime.outcome_json import dump_outcome
from veritask.types import Confidence, ConfidenceMethod, Outcome, OutcomeStatus, Source, Usage

plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    value=plain,
    fields=st.dictionaries(st.text(max_size=4), plain, max_size=3),
    score=st.floats(0, 1),
    attempts=st.integers(1, 5),
)
def test_fast_dump_equals_pydantic(
    value: object, fields: dict, score: float, attempts: int
) -> None:
    outcome = Outcome(
        task_id="t1",
        status=OutcomeStatus.SUCCEEDED,
        value=value,
        confidence=Confidence(score=score, method=ConfidenceMethod.TOOL),
        evidence=[Source(tool="x", query={"a": 1}, source="s", record_id="r", fields=fields)],
        attempts=attempts,
        usage=Usage(latency_s=0.5),
    )
    assert dump_outcome(outcome) == outcome.model_dump(mode="json", fallback=repr)
