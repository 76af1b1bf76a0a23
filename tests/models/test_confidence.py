from __future__ import annotations

import math

import pytest

from veritask.models import (
    Completion,
    ScriptedModel,
    TokenLogprob,
    logprob_confidence,
    normalize_answer,
    sample_consistency,
    self_consistency,
    user,
)
from veritask.models.confidence import combine
from veritask.models.scripted import token_logprobs
from veritask.types import Confidence, ConfidenceMethod


def test_logprob_confidence_over_the_whole_output() -> None:
    tokens = token_logprobs("Paris is it", [0.9, 0.5, 0.8])
    conf = logprob_confidence(tokens)
    assert conf.method is ConfidenceMethod.LOGPROB
    assert conf.signals["tokens"] == 3
    assert conf.signals["min_prob"] == pytest.approx(0.5)
    assert conf.signals["mean_prob"] == pytest.approx((0.9 + 0.5 + 0.8) / 3, abs=1e-6)
    assert conf.score == pytest.approx((0.9 * 0.5 * 0.8) ** (1 / 3), abs=1e-6)


def test_logprob_confidence_of_an_answer_span_ignores_scaffolding() -> None:
    tokens = (
        TokenLogprob('{"city": "', math.log(0.99), 0),
        TokenLogprob("Par", math.log(0.4), 10),
        TokenLogprob("is", math.log(0.9), 13),
        TokenLogprob('"}', math.log(0.99), 15),
    )
    whole = logprob_confidence(tokens)
    span = logprob_confidence(tokens, "Paris")
    assert span.signals["tokens"] == 2
    assert span.score == pytest.approx(math.sqrt(0.4 * 0.9), abs=1e-6)
    assert span.score < whole.score
    assert logprob_confidence(tokens, (10, 15)).score == pytest.approx(span.score)
    assert logprob_confidence(tokens, "paris").signals["tokens"] == 2  # case-insensitive


def test_logprob_confidence_accepts_a_completion() -> None:
    completion = Completion("yes", token_logprobs=token_logprobs("yes", 0.25))
    assert logprob_confidence(completion).score == pytest.approx(0.25)


def test_missing_logprobs_or_span_give_zero_with_a_reason() -> None:
    none = logprob_confidence(Completion("x"))
    assert none.score == 0 and "no token logprobs" in none.signals["reason"]
    missing = logprob_confidence(token_logprobs("a b", 0.9), "zebra")
    assert missing.score == 0 and missing.method is ConfidenceMethod.LOGPROB
    assert "not in the output" in missing.signals["reason"]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("67,750,000.", "67750000"),
        ("  Paris ", "paris"),
        ('"Madrid"', "madrid"),
        ("3.50", "3.5"),
        ("2.0", "2"),
        ("New   York", "new york"),
        (12.0, "12"),
        ({"b": 1, "a": 2}, {"a": 2, "b": 1}),
    ],
)
def test_normalisation_makes_equivalent_answers_equal(a: object, b: object) -> None:
    assert normalize_answer(a) == normalize_answer(b)


@pytest.mark.parametrize(("a", "b"), [("3.05", "3.5"), ("1,234", "1234.5"), ("Paris", "Parish")])
def test_normalisation_keeps_different_answers_apart(a: str, b: str) -> None:
    assert normalize_answer(a) != normalize_answer(b)


def test_self_consistency_measures_agreement() -> None:
    conf = self_consistency(["67,750,000", "67750000.", "68 million", "67750000", "67,750,000"])
    assert conf.method is ConfidenceMethod.SELF_CONSISTENCY
    assert conf.score == pytest.approx(0.8)
    assert conf.signals["k"] == 5 and conf.signals["agreement"] == pytest.approx(0.8)
    assert conf.signals["majority"] == "67750000"
    assert conf.signals["majority_raw"] == "67,750,000"
    assert len(conf.signals["answers"]) == 5


def test_self_consistency_of_nothing_is_zero() -> None:
    assert self_consistency([]).score == 0


async def test_sample_consistency_draws_k_samples_in_one_call() -> None:
    model = ScriptedModel(["Paris", "paris.", "Lyon", "Paris", "PARIS"])
    answer, conf, completion = await sample_consistency(model, [user("Capital?")], k=5)
    assert answer == "Paris" and conf.score == pytest.approx(0.8)
    assert model.last_call.n == 5 and model.last_call.temperature > 0
    assert len(completion.choices) == 5
    with pytest.raises(ValueError):
        await sample_consistency(model, [user("x")], k=1)


async def test_sample_consistency_compares_parsed_json() -> None:
    model = ScriptedModel([{"n": 2}, {"n": 2.0}, {"n": 3}])
    answer, conf, _ = await sample_consistency(
        model, [user("n?")], k=3, json_schema={"type": "object"}
    )
    assert answer == {"n": 2}
    assert conf.score == pytest.approx(2 / 3)  # 2 and 2.0 agree


def test_combine_is_a_weighted_mean() -> None:
    a = Confidence(score=1.0, method=ConfidenceMethod.LOGPROB)
    b = Confidence(score=0.5, method=ConfidenceMethod.SELF_CONSISTENCY)
    c = combine(a, b, weights=[1, 3])
    assert c.method is ConfidenceMethod.COMPOSITE and c.score == pytest.approx(0.625)
    assert c.signals == {"0:logprob": 1.0, "1:self_consistency": 0.5}
