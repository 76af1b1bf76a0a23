"""Shared pieces of the baselines: reading a value out of an answer, its confidence."""

from __future__ import annotations

import pytest

from veritask.models import Completion
from veritask.pipeline.modes._common import FALLBACK_SCORE, answer_confidence, parse_value
from veritask.types import ConfidenceMethod


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("126190788", 126190788),
        ("11,111,782.", 11111782),
        ("The combined population is 163,471,995.", 163471995),
        ("About 2.7 million.", 2_700_000),
        ("2.5", 2.5),
        ("1.1 million", 1_100_000),
        ("-3", -3),
        ("Nairobi", "Nairobi"),
        ("Kinshasa.", "Kinshasa"),
        ('"Democratic Republic of the Congo"', "Democratic Republic of the Congo"),
        ("Peru has more people.", None),
        ("Chile has 19 million and Peru 29 million", None),
        ("", None),
    ],
)
def test_parse_value(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_confidence_without_logprobs_is_a_plain_half() -> None:
    confidence = answer_confidence(Completion(text="Final Answer: 7"), "7")
    assert confidence.score == FALLBACK_SCORE
    assert confidence.method is ConfidenceMethod.NONE
    assert "logprobs" in confidence.signals["reason"]
