"""How sure a model worker is of its answer.

A worker's output is constrained by a grammar (the labels, or word runs of a
text), so the question its confidence must answer is "how likely is this
answer among the answers the grammar allows?" — not "how likely is each
token among every token the model knows". Two estimators, chosen by what the
provider reports:

**answer probability** (method `logprob`, ``signals["estimator"] ==
"answer_probability"``). When a choice carries its tokens' log-probabilities
among the tokens the grammar allowed and that of stopping where it stopped
(`grammar_logprobs`, `end_logprob`: the embedded model does, see
`models/local.py`), each sample's text has an exact probability under the
constrained model, p(s) = exp(sum of grammar logprobs + end logprob). The
confidence in an answer `a` is the probability mass of the distinct outputs
seen that give `a`::

    score(a) = sum of p(s) over the distinct sampled outputs s that give a

- For labels (classify, judge) one greedy sample already gives the label's
  probability among the labels: the same number as scoring every label by
  its sequence likelihood and normalising, since the grammar makes the labels
  the only outputs.
- For spans, "12 kg." and "The parcel weighs 12 kg." give the same answer
  (a sample gives a candidate it holds within one clause and without a
  competing candidate: "Room 4B was booked, the meeting moved to Room 7C"
  gives neither room). One sample is a lower bound; more samples find the
  rest of the mass, which is why `llm.extract` draws several at once.
- The answer is the candidate of most mass among those that are not rare
  outputs nor the common part of two competing ones (see `_reportable`):
  "kg", written once, would otherwise collect the mass of "12 kg".
- It is a lower bound on the model's own probability of the answer, whatever
  the sampling luck: the same wrong string drawn five times adds its
  probability once. A resample lifts a score only by finding *other* outputs
  that agree, unlike a vote count, which a model that is stably wrong at
  temperature 0.7 pushes to 1.0.

**fallback**, when the provider reports no such probabilities (a remote API:
its logprobs are over the whole vocabulary, or missing): one sample scores
its geometric mean token probability (`logprob_confidence`, method
`logprob`, which the tokens the grammar forbids pull down); several score
their agreement (method `self_consistency`). ``signals["estimator"]`` tells
the first apart.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from veritask.models.base import Choice
from veritask.models.confidence import logprob_confidence, normalize_answer
from veritask.types import Confidence, ConfidenceMethod


@dataclass(frozen=True)
class Vote:
    """One sampled answer: its value (None when off-format) and, when the provider
    reports it, the probability of exactly that output under the grammar."""

    value: str | None
    prob: float | None = None


@dataclass(frozen=True)
class Sample:
    """One decoded answer with the confidence its own tokens give it."""

    value: str | None
    logprob: Confidence
    prob: float | None = None
    """p(output) under the grammar-constrained model, when known (see the module doc)."""
    reason: str = ""
    """Why `value` is None: what was wrong with the output (cut by the length limit, not a
    span of the text, ...); empty when it is an answer or the reason is not known."""

    @property
    def vote(self) -> Vote:
        return Vote(self.value, self.prob)


def output_probability(choice: Choice) -> float | None:
    """p(exactly this text) among the grammar's outputs, when the provider reports it."""
    if choice.grammar_logprobs is None or choice.end_logprob is None:
        return None
    return math.exp(sum(choice.grammar_logprobs) + choice.end_logprob)


def to_sample(choice: Choice, value: str | None, reason: str = "") -> Sample:
    """`choice` decoded to `value` (None, for `reason`, when it gives no answer), with its
    token confidence."""
    span = choice.text.strip() or None
    why = "" if value is not None else reason
    return Sample(value, logprob_confidence(choice, span), output_probability(choice), why)


def prior_samples(votes: Sequence[Vote | str | None]) -> list[Sample]:
    """Earlier votes as samples: their answer and output probability (a property of the
    model, prompt and grammar, so it holds across calls), not their token signals."""
    out = []
    for v in votes:
        vote = v if isinstance(v, Vote) else Vote(v)
        out.append(Sample(vote.value, Confidence(score=0.0), vote.prob))
    return out


def _inside(candidate: str, sample: str) -> bool:
    """Whether `candidate` is a whole-word part of `sample` (both normalised)."""
    return bool(re.search(rf"(?<!\w){re.escape(candidate)}(?!\w)", sample))


_CLAUSE = re.compile(r"[,;!?]|[.:](?!\d)")
"""A clause boundary (not the point or colon inside "3.5" or "9:45")."""


def _gives(sample: str, candidate: str, candidates: set[str], spans: bool) -> bool:
    """Whether a sample (normalised) gives `candidate`: equal, or for spans holding it in
    the same clause ("the parcel weighs 12 kg" gives "12 kg") and holding no competing
    candidate (one that neither contains it nor lies inside it).

    A span that runs past a clause boundary says more than one thing: "Braga, near the
    Porto road" does not give "Porto", whatever else was sampled.
    """
    if sample == candidate:
        return True
    if not spans or not _inside(candidate, sample):
        return False
    if _CLAUSE.search(sample.replace(candidate, " ", 1)):
        return False
    rivals = (c for c in candidates if not (_inside(c, candidate) or _inside(candidate, c)))
    return not any(_inside(r, sample) for r in rivals)


def score_samples(
    samples: Sequence[Sample], *, spans: bool = False
) -> tuple[str | None, Confidence]:
    """The answer and its confidence (see the module doc for the two estimators)."""
    if not samples:
        return None, Confidence(score=0.0, signals={"reason": "no samples"})
    votes = [s.value for s in samples]
    if all(s.value is None for s in samples):
        one = len(samples) == 1
        method = ConfidenceMethod.LOGPROB if one else ConfidenceMethod.SELF_CONSISTENCY
        return None, Confidence(
            score=0.0,
            method=method,
            signals={"k": len(votes), "votes": votes, "reason": no_answer_reason(samples)},
        )
    if any(s.prob is not None for s in samples):
        return _answer_probability(samples, spans)
    if len(samples) == 1:
        only = samples[0]
        kept = {**only.logprob.signals, "votes": votes}
        return only.value, only.logprob.model_copy(update={"signals": kept})
    return _agreement(samples, spans)


def no_answer_reason(samples: Sequence[Sample]) -> str:
    """Why none of `samples` is an answer, in words: "the output was cut by the length
    limit", or "none of 4 samples was an answer: 3 cut by the length limit, 1 not a span
    of the text"."""
    counts = Counter(s.reason or "off-format" for s in samples if s.value is None)
    if len(samples) == 1:
        return f"the output was {next(iter(counts))}"
    parts = ", ".join(f"{n} {why}" for why, n in counts.most_common())
    return f"none of {len(samples)} samples was an answer: {parts}"


def _answer_probability(samples: Sequence[Sample], spans: bool) -> tuple[str, Confidence]:
    valid = [s for s in samples if s.value is not None]
    normal = {id(s): normalize_answer(s.value) for s in valid}
    candidates = set(normal.values())
    distinct: dict[tuple[str, float], Sample] = {}
    for s in valid:
        if s.prob is not None:  # one output drawn twice counts once
            distinct.setdefault((normal[id(s)], round(s.prob, 12)), s)

    def mass(c: str) -> float:
        return sum(p for (text, p) in distinct if _gives(text, c, candidates, spans))

    def count(c: str) -> int:
        return sum(_gives(normal[id(s)], c, candidates, spans) for s in valid)

    eligible = _reportable(candidates, distinct, spans)
    best = max(eligible, key=lambda c: (mass(c), count(c), -len(c.split()), c))
    winner = next(s for s in valid if normal[id(s)] == best)
    signals: dict[str, Any] = {
        "estimator": "answer_probability",
        "over": "grammar",
        "k": len(samples),
        "distinct": len(distinct),
        "agreement": round(count(best) / len(samples), 6),
        "votes": [s.value for s in samples],
        "probs": [None if s.prob is None else round(s.prob, 12) for s in samples],
    }
    if len(samples) == 1:
        signals |= {k: v for k, v in winner.logprob.signals.items() if k not in signals}
    score = min(1.0, mass(best))
    return winner.value or best, Confidence(
        score=score, method=ConfidenceMethod.LOGPROB, signals=signals
    )


RARE = 0.25
"""An output less than this share as probable as the likeliest one is not reported as the
answer (it still adds to the answers it holds)."""


def _reportable(
    candidates: set[str],
    distinct: dict[tuple[str, float], Sample],
    spans: bool,
) -> list[str]:
    """The candidates the answer may be: not a rare output, and for spans not the common
    part of two competing ones ("Room" of "Room 4B" and "Room 7C").

    A part of the answer ("kg" of "12 kg") collects the mass of every output holding it,
    so choosing by mass alone would report the vaguest part the model ever wrote.
    """
    own = {c: max((p for (t, p) in distinct if t == c), default=0.0) for c in candidates}
    top = max(own.values(), default=0.0)
    keep = [c for c in candidates if own[c] >= RARE * top]
    if spans:

        def split(c: str) -> bool:
            wider = [w for w in candidates if w != c and _inside(c, w)]
            return any(not (_inside(a, b) or _inside(b, a)) for a in wider for b in wider)

        keep = [c for c in keep if not split(c)] or keep
    return keep or sorted(candidates)


def _agreement(samples: Sequence[Sample], spans: bool) -> tuple[str | None, Confidence]:
    votes = [s.value for s in samples]
    valid = [normalize_answer(v) for v in votes if v is not None]
    majority, count = Counter(valid).most_common(1)[0]
    if spans:
        # A sample of one span that copied more context still agrees on the span it holds.
        support = {c: sum(_inside(c, v) for v in valid) for c in set(valid)}
        majority = max(support, key=lambda c: (support[c], -len(c.split()), c))
        count = support[majority]
    winners = [s for s in samples if s.value is not None and normalize_answer(s.value) == majority]
    token_scores = [s.logprob.score for s in winners if s.logprob.signals.get("tokens")]
    agreement = count / len(votes)
    signals: dict[str, Any] = {"k": len(votes), "agreement": round(agreement, 6), "votes": votes}
    if token_scores:
        signals["majority_token_prob"] = round(sum(token_scores) / len(token_scores), 6)
    confidence = Confidence(
        score=agreement, method=ConfidenceMethod.SELF_CONSISTENCY, signals=signals
    )
    return winners[0].value, confidence


def votes_of(confidence: Confidence | None) -> list[Vote]:
    """The samples a worker result was scored on (what a resample adds to)."""
    signals = confidence.signals if confidence is not None else {}
    votes = signals.get("votes") or []
    probs = signals.get("probs") or [None] * len(votes)
    return [
        Vote(v if isinstance(v, str) else None, p if isinstance(p, int | float) else None)
        for v, p in zip(votes, probs, strict=False)
    ]


__all__ = [
    "Sample",
    "Vote",
    "no_answer_reason",
    "output_probability",
    "prior_samples",
    "score_samples",
    "to_sample",
    "votes_of",
]
