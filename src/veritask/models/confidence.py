"""Turning model outputs into an explicit `Confidence`.

Two signals a model call can give without a second model:

- **token logprobs** of the answer span: `logprob_confidence`. The score is the
  geometric mean token probability, exp(mean logprob), so one very unlikely
  token in "1,2**7**3" pulls the score down more than an arithmetic mean would
  (which is also reported, with the minimum, in `signals`).
- **self-consistency**: sample k answers and measure how many agree after
  normalisation (case, spaces, punctuation, number formatting):
  `self_consistency` scores given answers, `sample_consistency` draws them.

Missing signals give score 0 with the reason in `signals`, never an invented
number, so a caller escalates instead of trusting a blank.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from veritask.models.base import Choice, Completion, Message, ModelProvider, TokenLogprob
from veritask.types import Confidence, ConfidenceMethod


def logprob_confidence(
    source: Completion | Choice | Sequence[TokenLogprob] | None,
    span: str | tuple[int, int] | None = None,
) -> Confidence:
    """Confidence from the token logprobs of `span` (a substring or char range) of the output.

    Without `span` every generated token counts. With a JSON answer, pass the
    value's text (``"Paris"``) so the scaffolding tokens (``{"city": "``),
    which a grammar forces and the model is sure of anyway, do not inflate it.
    """
    tokens = source.token_logprobs if isinstance(source, Completion | Choice) else source
    if not tokens:
        return _blank(ConfidenceMethod.NONE, "the model returned no token logprobs")
    picked = list(tokens)
    if span is not None:
        text = "".join(t.token for t in tokens)
        bounds = _span_bounds(text, span)
        if bounds is None:
            return _blank(ConfidenceMethod.LOGPROB, f"answer span {span!r} not in the output")
        start, end = bounds
        picked = [t for t in tokens if t.offset < end and t.offset + len(t.token) > start]
    picked = [t for t in picked if t.token.strip()] or picked
    if not picked:
        return _blank(ConfidenceMethod.LOGPROB, "the answer span has no tokens")
    logprobs = [t.logprob for t in picked]
    mean_logprob = sum(logprobs) / len(logprobs)
    probs = [math.exp(lp) for lp in logprobs]
    return Confidence(
        score=_clamp(math.exp(mean_logprob)),
        method=ConfidenceMethod.LOGPROB,
        signals={
            "mean_prob": round(sum(probs) / len(probs), 6),
            "min_prob": round(min(probs), 6),
            "mean_logprob": round(mean_logprob, 6),
            "tokens": len(picked),
        },
    )


def _span_bounds(text: str, span: str | tuple[int, int]) -> tuple[int, int] | None:
    if isinstance(span, tuple):
        start, end = span
        return (start, end) if 0 <= start < end <= len(text) else None
    if not span:
        return None
    at = text.find(span)
    if at < 0:
        at = text.casefold().find(span.casefold())
    return (at, at + len(span)) if at >= 0 else None


_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])")
_DECIMAL = re.compile(r"(?<![\d.])(\d+)\.(\d+)(?![\d.])")
_EDGE_PUNCT = "\"'`“”‘’.,;:!?()[]{}"


def normalize_answer(answer: Any) -> str:
    """Canonical text of an answer, so that "67,750,000." and "67750000" agree.

    Case-folds, collapses whitespace, strips surrounding quotes and trailing
    punctuation, drops thousands separators and trailing decimal zeros
    ("3.50" → "3.5", "2.0" → "2"). Non-strings are compared as sorted JSON.
    """
    if not isinstance(answer, str):
        if isinstance(answer, float) and answer.is_integer():
            answer = int(answer)
        answer = json.dumps(answer, sort_keys=True, ensure_ascii=False)
    text = unicodedata.normalize("NFKC", answer).casefold()
    text = " ".join(text.split())
    text = text.strip(_EDGE_PUNCT + " ")
    text = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _DECIMAL.sub(_trim_decimal, text)
    return text


def _trim_decimal(match: re.Match[str]) -> str:
    whole, frac = match.group(1), match.group(2).rstrip("0")
    return f"{whole}.{frac}" if frac else whole


def self_consistency(answers: Sequence[Any]) -> Confidence:
    """Agreement of k answers: the share that match the most common normalised answer.

    `signals` holds ``k``, ``agreement``, the normalised ``answers``, the
    ``majority`` (normalised) and ``majority_raw`` (the first answer as given
    that normalises to it), so a caller can use the winning answer directly.
    """
    if not answers:
        return _blank(ConfidenceMethod.SELF_CONSISTENCY, "no answers to compare")
    normalised = [normalize_answer(a) for a in answers]
    majority, count = Counter(normalised).most_common(1)[0]
    raw = answers[normalised.index(majority)]
    agreement = count / len(answers)
    return Confidence(
        score=_clamp(agreement),
        method=ConfidenceMethod.SELF_CONSISTENCY,
        signals={
            "k": len(answers),
            "agreement": round(agreement, 6),
            "answers": normalised,
            "majority": majority,
            "majority_raw": raw,
        },
    )


async def sample_consistency(
    model: ModelProvider,
    messages: Sequence[Message],
    *,
    k: int = 5,
    temperature: float = 0.7,
    max_tokens: int = 64,
    json_schema: Mapping[str, Any] | None = None,
    extract: Callable[[Choice], Any] | None = None,
) -> tuple[Any, Confidence, Completion]:
    """Draw k samples in one call (``n=k``) and score their agreement.

    `extract` picks the answer out of each sample (default: `parsed` when a
    schema was given, else the text). Returns the majority answer as given by
    the model, the confidence, and the completion (for its usage).
    """
    if k < 2:
        raise ValueError("self-consistency needs k >= 2 samples")
    completion = await model.acomplete(
        messages, json_schema=json_schema, max_tokens=max_tokens, temperature=temperature, n=k
    )
    pick = extract or (lambda c: c.parsed if json_schema is not None else c.text)
    answers = [pick(c) for c in completion.choices]
    confidence = self_consistency(answers)
    return confidence.signals.get("majority_raw"), confidence, completion


def combine(*confidences: Confidence, weights: Sequence[float] | None = None) -> Confidence:
    """A weighted mean of several confidences (method `composite`), keeping each one's score."""
    if not confidences:
        return _blank(ConfidenceMethod.COMPOSITE, "nothing to combine")
    w = list(weights) if weights is not None else [1.0] * len(confidences)
    if len(w) != len(confidences) or sum(w) <= 0:
        raise ValueError("weights must match the confidences and sum to more than 0")
    score = sum(c.score * wi for c, wi in zip(confidences, w, strict=True)) / sum(w)
    parts = {f"{i}:{c.method.value}": round(c.score, 6) for i, c in enumerate(confidences)}
    return Confidence(score=_clamp(score), method=ConfidenceMethod.COMPOSITE, signals=parts)


def _blank(method: ConfidenceMethod, reason: str) -> Confidence:
    return Confidence(score=0.0, method=method, signals={"tokens": 0, "reason": reason})


def _clamp(x: float) -> float:
    return min(1.0, max(0.0, x))


__all__ = [
    "combine",
    "logprob_confidence",
    "normalize_answer",
    "sample_consistency",
    "self_consistency",
]
