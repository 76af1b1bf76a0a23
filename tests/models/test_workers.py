"""Model workers: constrained output, logprob confidence, agreement between samples."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from veritask.config import Settings
from veritask.errors import ToolError
from veritask.models import Completion, Router, ScriptedModel
from veritask.models.base import Choice
from veritask.models.scripted import constrained, token_logprobs
from veritask.models.workers import (
    EXTRACT_SAMPLES,
    MAX_SPAN_WORDS,
    VERDICTS,
    WORKERS,
    Effort,
    accepts,
    asks_for_number,
    bind_router,
    choice_grammar,
    numbers_in,
    numbers_named,
    span_grammar,
    unbind_router,
    votes_of,
)
from veritask.types import ConfidenceMethod, Usage

TEXT = "The meeting moved to Room 4B on Friday. Lunch is at noon."
ONE = Effort(samples=1)


def routed(model: ScriptedModel, strong: ScriptedModel | None = None) -> Iterator[ScriptedModel]:
    providers = {"weak": model, **({"strong": strong} if strong else {})}
    router = Router(Settings(model="weak"), providers)
    token = bind_router(router)
    try:
        yield model
    finally:
        unbind_router(token)


@pytest.fixture
def model(request: pytest.FixtureRequest) -> Iterator[ScriptedModel]:
    yield from routed(ScriptedModel(token_prob=0.9))


async def no_answer(tool: str, args: dict[str, Any], effort: Effort) -> str:
    """Run `tool` and check it gave no answer (none, at confidence 0); return its reason."""
    result = await WORKERS[tool](args, effort, ())
    assert result.value is None and result.confidence is not None
    assert result.confidence.score == 0.0
    return result.no_answer


def answer(text: str, probs: list[float]) -> Completion:
    """A completion whose tokens have the given probabilities (one per word)."""
    lps = token_logprobs(text, probs)
    return Completion.from_choices(
        [Choice(text, None, lps)], usage=Usage(model_calls=1), model="weak", latency_s=0.0
    )


async def test_extract_is_a_span_of_the_text_under_a_span_grammar(model: ScriptedModel) -> None:
    model.add("Room 4B")
    result = await WORKERS["llm.extract"]({"text": TEXT, "what": "the room"}, ONE, ())
    assert result.value == "Room 4B"
    call = model.last_call
    assert call.grammar is not None and '"Room"' in call.grammar and '"4B"' in call.grammar
    assert call.logprobs and call.temperature == 0.0
    conf = result.confidence
    assert conf is not None and conf.method is ConfidenceMethod.LOGPROB
    assert conf.score == pytest.approx(0.9)
    assert result.evidence[0].fields == {"start": TEXT.index("Room 4B"), "end": 28}


async def test_extract_refuses_words_that_are_not_in_the_text(model: ScriptedModel) -> None:
    model.add("Room 5C")  # a provider that ignored the grammar: checked again after decoding
    assert re.search(
        "not a span of the text",
        await no_answer("llm.extract", {"text": TEXT, "what": "the room"}, ONE),
    )


async def test_without_grammar_probabilities_one_sample_scores_its_tokens_likelihood(
    model: ScriptedModel,
) -> None:
    model.add(answer("Room 4B", [0.25, 0.64]))  # a provider whose logprobs span the vocabulary
    result = await WORKERS["llm.extract"]({"text": TEXT, "what": "the room"}, ONE, ())
    assert result.confidence is not None
    assert result.confidence.score == pytest.approx((0.25 * 0.64) ** 0.5)  # geometric mean
    assert result.confidence.signals["min_prob"] == pytest.approx(0.25)


async def test_classify_gives_one_of_the_labels(model: ScriptedModel) -> None:
    model.add("complaint")
    labels = ["complaint", "question", "praise"]
    result = await WORKERS["llm.classify"](
        {"text": "My order never came.", "labels": labels}, Effort(), ()
    )
    assert result.value == "complaint"
    assert model.last_call.grammar == choice_grammar(labels)
    model.add("angry")
    assert "not one of the labels" in await no_answer(
        "llm.classify", {"text": "x", "labels": labels}, Effort()
    )
    with pytest.raises(ToolError, match="at least two distinct"):
        await WORKERS["llm.classify"]({"text": "x", "labels": ["a", "a"]}, Effort(), ())


async def test_judge_agreement_between_samples(model: ScriptedModel) -> None:
    model.add("supported", "supported", "contradicted", "supported")
    args = {"claim": "Lunch is at noon", "evidence": TEXT}
    result = await WORKERS["llm.judge"](args, Effort(samples=4), ())
    assert result.value == "supported"
    conf = result.confidence
    assert conf is not None and conf.method is ConfidenceMethod.SELF_CONSISTENCY
    assert conf.score == pytest.approx(0.75)
    assert conf.signals["k"] == 4 and conf.signals["majority_token_prob"] == pytest.approx(0.9)
    call = model.last_call
    assert call.n == 4 and call.temperature > 0 and call.grammar == choice_grammar(VERDICTS)


async def test_resampling_adds_to_earlier_votes_and_off_format_samples_count_against(
    model: ScriptedModel,
) -> None:
    model.add("Room 4B", "Room 9", "Room 4B")  # "Room 9" is no span of the text
    args = {"text": TEXT, "what": "the room"}
    result = await WORKERS["llm.extract"](args, Effort(samples=3), ["Friday"])
    conf = result.confidence
    assert result.value == "Room 4B" and conf is not None
    assert [v.value for v in votes_of(conf)] == ["Friday", "Room 4B", None, "Room 4B"]
    assert conf.score == pytest.approx(0.5)


async def test_effort_names_the_model_to_ask() -> None:
    weak = ScriptedModel(name="weak")
    strong = ScriptedModel(["praise"], name="strong", token_prob=0.99)
    for _ in routed(weak, strong):
        result = await WORKERS["llm.classify"](
            {"text": "Great!", "labels": ["complaint", "praise"]}, Effort(models=("strong",)), ()
        )
    assert result.value == "praise" and weak.calls == [] and len(strong.calls) == 1
    assert result.confidence is not None and result.confidence.signals["model"] == "strong"


def test_span_grammar_admits_word_runs_only() -> None:
    grammar = span_grammar("a b c", max_words=2)
    assert grammar is not None
    lines = grammar.splitlines()
    assert lines[0] == "root ::= w0d1 | w1d1 | w2d1"
    assert 'w0d1 ::= "a" (" " w0d2)?' in lines and 'w0d2 ::= "b"' in lines
    assert span_grammar("") is None and span_grammar("word " * 5000) is None


async def test_extract_samples_that_copy_more_context_agree_on_the_span_they_share(
    model: ScriptedModel,
) -> None:
    model.add("The meeting moved to Room 4B", "Room 4B", "moved to Room 4B on Friday")
    args = {"text": TEXT, "what": "the room"}
    result = await WORKERS["llm.extract"](args, Effort(samples=3), ())
    assert result.value == "Room 4B"
    assert result.confidence is not None and result.confidence.score == 1.0
    model.add("Room 4B", "Friday", "Lunch is at noon")  # nothing shared: no agreement
    other = await WORKERS["llm.extract"](args, Effort(samples=3), ())
    assert other.confidence is not None and other.confidence.score == pytest.approx(1 / 3)


# -- answer probability: what the embedded model reports under a grammar -----------

PARCEL = "The parcel weighs 12 kg."
MOVE = "The old office was in Porto; since March the team works from Braga, near the Porto road."


async def test_a_label_scores_its_probability_among_the_labels(model: ScriptedModel) -> None:
    model.add(constrained("complaint", 0.7))
    labels = ["complaint", "question", "praise"]
    result = await WORKERS["llm.classify"]({"text": "Where is it?", "labels": labels}, Effort(), ())
    conf = result.confidence
    assert result.value == "complaint" and conf is not None
    assert model.last_call.n == 1 and model.last_call.temperature == 0.0  # one greedy sample
    assert conf.method is ConfidenceMethod.LOGPROB and conf.score == pytest.approx(0.7)
    assert conf.signals["estimator"] == "answer_probability" and conf.signals["over"] == "grammar"


async def test_extract_draws_several_samples_and_equivalent_spans_add_up(
    model: ScriptedModel,
) -> None:
    model.add(
        constrained("12 kg.", 0.5),
        constrained(PARCEL, 0.4),  # the same answer, with its sentence
        constrained("12 kg.", 0.5),  # drawn again: counted once
        constrained("kg.", 0.05),  # a part of the answer: not chosen for holding less
    )
    result = await WORKERS["llm.extract"]({"text": PARCEL, "what": "the weight"}, Effort(), ())
    conf = result.confidence
    assert model.last_call.n == EXTRACT_SAMPLES and result.value == "12 kg"
    assert conf is not None and conf.score == pytest.approx(0.9)
    assert conf.signals["distinct"] == 3 and conf.signals["k"] == 4


async def test_a_stably_wrong_answer_is_not_lifted_by_drawing_it_again(
    model: ScriptedModel,
) -> None:
    args = {"text": MOVE, "what": "the city the team works from now"}
    model.add(*[constrained("Porto", 0.3)] * 4)
    first = await WORKERS["llm.extract"](args, Effort(), ())
    assert first.confidence is not None and first.confidence.score == pytest.approx(0.3)
    model.add(*[constrained("Porto", 0.3)] * 4)  # agreement 8 of 8, probability still 0.3
    again = await WORKERS["llm.extract"](args, Effort(samples=4), votes_of(first.confidence))
    assert again.confidence is not None and again.confidence.score == pytest.approx(0.3)
    assert again.confidence.signals["agreement"] == 1.0


async def test_a_span_past_a_clause_boundary_does_not_give_the_word_it_holds(
    model: ScriptedModel,
) -> None:
    model.add(
        constrained("Porto", 0.3),
        constrained("Braga, near the Porto road.", 0.45),
        constrained("Porto", 0.3),
        constrained("Braga", 0.2),
    )
    args = {"text": MOVE, "what": "the city the team works from now"}
    result = await WORKERS["llm.extract"](args, Effort(), ())
    conf = result.confidence
    # "Braga, near the Porto road" names both cities: it gives neither, nor is it an answer.
    assert result.value == "Porto" and conf is not None
    assert conf.score == pytest.approx(0.3)
    assert votes_of(conf)[1].value is None


async def test_a_resample_adds_the_mass_of_new_outputs_to_the_earlier_votes(
    model: ScriptedModel,
) -> None:
    args = {"text": PARCEL, "what": "the weight"}
    model.add(*[constrained("12 kg.", 0.5)] * 4)
    first = await WORKERS["llm.extract"](args, Effort(), ())
    assert first.confidence is not None and first.confidence.score == pytest.approx(0.5)
    model.add(constrained(PARCEL, 0.4), *[constrained("12 kg.", 0.5)] * 3)
    more = await WORKERS["llm.extract"](args, Effort(samples=4), votes_of(first.confidence))
    assert more.confidence is not None and more.confidence.score == pytest.approx(0.9)
    assert len(votes_of(more.confidence)) == 8


async def test_a_request_naming_a_numbers_unit_copies_that_number_bare(
    model: ScriptedModel,
) -> None:
    text = "The oven needs 45 minutes to reach 250 degrees; the first baker comes at 4:30."
    model.add("45")
    result = await WORKERS["llm.extract"]({"text": text, "what": "the number of minutes"}, ONE, ())
    assert result.value == "45"  # a number calc can compute with, not the sentence
    assert model.last_call.grammar == choice_grammar(["45"])
    model.add("The oven needs 45 minutes")  # a provider that ignored the grammar
    args = {"text": text, "what": "how many minutes"}
    assert "not a number the text states" in await no_answer("llm.extract", args, ONE)
    model.add("250")  # in the text, but not the number the grammar offered
    assert "not a number the text states" in await no_answer("llm.extract", args, ONE)
    with pytest.raises(ToolError, match="states no number"):
        await WORKERS["llm.extract"]({"text": "Bake until golden.", "what": "how long"}, ONE, ())


async def test_a_choice_between_numbers_the_request_does_not_tell_apart_is_a_span(
    model: ScriptedModel,
) -> None:
    # Offered "12" and "87" bare, the 135M model chose the first amount at 0.81: the
    # span ("87 euros", or the sentence naming both, which is no answer) says more.
    text = "The first invoice was 12 euros, but after the discount it came to 87 euros."
    model.add("87 euros")
    args = {"text": text, "what": "the amount after the discount"}
    result = await WORKERS["llm.extract"](args, ONE, ())
    assert result.value == "87 euros"
    assert model.last_call.grammar == span_grammar(text)


def test_numbers_in_a_text_are_the_ones_calc_can_use() -> None:
    assert numbers_in("costs 1,200 or 2.5, at 4:30, v3.1, -3 and 45.") == ["2.5", "-3", "45"]
    assert asks_for_number("the number of days") and asks_for_number("How many seats")
    assert not asks_for_number("the name of the river")
    assert numbers_named("40 seats in 3 rooms", "how many seats") == ["40"]
    assert numbers_named("45 minutes, then 20 minutes", "the number of minutes") == ["45", "20"]


# -- outputs the length limit cut: no answer, never the part that was shown ---------

INVOICE = "The first invoice was 31 euros, but after the discount it came to 240 euros."
CUT_INVOICE = "The first invoice was 31 euros, but after the discount it came"
"""Twelve words: the span grammar's limit stopped it, not the model."""


async def test_a_label_the_token_cap_cut_is_no_answer_even_when_it_spells_a_label(
    model: ScriptedModel,
) -> None:
    # "fail" is where "failure" was cut: reading it as the label "fail" would invert it.
    model.add(constrained("fail", 0.9, finish_reason="length"))
    args = {"text": "The build broke twice.", "labels": ["fail", "failure", "pass"]}
    assert re.search("cut by the length limit", await no_answer("llm.classify", args, Effort()))


async def test_a_span_the_token_cap_cut_gives_no_answer(model: ScriptedModel) -> None:
    model.add(*[constrained("The meeting moved to Room", 0.8, finish_reason="length")] * 4)
    assert re.search(
        "4 cut by the length limit",
        await no_answer("llm.extract", {"text": TEXT, "what": "the room"}, Effort()),
    )


async def test_a_span_the_word_limit_cut_is_no_vote_and_the_others_decide(
    model: ScriptedModel,
) -> None:
    model.add(*[constrained(CUT_INVOICE, 0.7)] * 3, constrained("240 euros.", 0.1))
    args = {"text": INVOICE, "what": "the price after the discount"}  # not a number request
    result = await WORKERS["llm.extract"](args, Effort(), ())
    conf = result.confidence
    assert result.value == "240 euros" and conf is not None
    assert conf.score == pytest.approx(0.1)  # the cut outputs' 0.7 counts for nothing
    assert [v.value for v in votes_of(conf)] == [None, None, None, "240 euros"]
    model.add(*[constrained(CUT_INVOICE, 0.7)] * 4)
    assert re.search(
        r"cut by the length limit \(12 words\)", await no_answer("llm.extract", args, Effort())
    )


async def test_a_span_as_long_as_the_limit_that_ends_the_text_is_an_answer(
    model: ScriptedModel,
) -> None:
    where = "the old red depot by the river in the far north end"
    assert len(where.split()) == MAX_SPAN_WORDS
    model.add(constrained(where, 0.9))
    args = {"text": f"Ship it to {where}.", "what": "where"}
    result = await WORKERS["llm.extract"](args, ONE, ())
    assert result.value == where


# -- spans that name two competing candidates: no answer, not a confident pick ------

LEFT = "The old office was in Leeds; since March the team works from Bristol, near the Leeds road."


async def test_a_span_naming_two_candidates_gives_no_answer_however_often_it_is_drawn(
    model: ScriptedModel,
) -> None:
    # The 135M model copies this span in every sample (escalation.md): agreement is no help.
    model.add(*[constrained("Bristol, near the Leeds road.", 0.78)] * 4)
    args = {"text": LEFT, "what": "the city the team works from now"}
    assert re.search(
        r"naming two competing candidates \('Bristol', 'Leeds'\)",
        await no_answer("llm.extract", args, Effort()),
    )


async def test_a_span_offering_two_candidates_gives_no_answer(model: ScriptedModel) -> None:
    text = "The team will move to Bristol or Leeds in May."
    model.add(*[constrained("Bristol or Leeds", 0.9)] * 4)
    assert re.search(
        "competing candidates",
        await no_answer("llm.extract", {"text": text, "what": "where the team moves"}, Effort()),
    )


async def test_a_span_naming_one_candidate_in_a_sentence_is_still_an_answer(
    model: ScriptedModel,
) -> None:
    # A room and a day, a date's parts: different kinds of thing, nothing competes.
    model.add(constrained("The meeting moved to Room 4B on Friday", 0.9))
    result = await WORKERS["llm.extract"]({"text": TEXT, "what": "the room"}, ONE, ())
    assert result.value == "The meeting moved to Room 4B on Friday"
    text = "Since March 3, 2024 the office is in Leeds."
    model.add(constrained("March 3, 2024", 0.9))
    result = await WORKERS["llm.extract"]({"text": text, "what": "since when"}, ONE, ())
    assert result.value == "March 3, 2024"


def test_an_answer_another_rung_brings_must_name_one_candidate_too() -> None:
    # What the deep-agent rung brings for an extract task is checked as a sample is.
    args = {"text": LEFT, "what": "the city the team works from now"}
    assert accepts("llm.extract", args, "Bristol")
    assert not accepts("llm.extract", args, "Bristol, near the Leeds road")
    assert not accepts("llm.extract", args, "Manchester")
