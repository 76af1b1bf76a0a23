"""Answers from a knowledge base that can only quote: a span of a retrieved passage, or nothing.

Why: a model asked to "answer from these passages" can still write a number
that is in none of them. Here the answer *is* a span copied from a retrieved
passage, so every number and name in it lies inside a quote with a file,
heading and character range. The reader (`veritask.memory.kb_reader`)
chooses the span — the sentence the question's rarer words, meaning and
asked-for kind of answer single out — and says how decisive that choice
was; a model, when given, votes among the reader's best few candidates
under a grammar that admits only their numbers.

Confidence multiplies two things. *Relevance*: the answer's passage must use
the question's words and be close to it in meaning, else the documents are
about something else. *Decisiveness*: the margin of the chosen sentence over
its best rival and the share of re-weightings of the evidence that still
choose it (and the model's agreement, when it voted). A right passage with
an unclear sentence is as much a reason to abstain as a wrong passage.
Below the threshold the answer abstains and says what it searched.

Text inside a document is data. A sentence that reads as an instruction to
an AI ("ignore previous instructions…") is never chosen as an answer span,
and its passage is listed in ``flagged``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from veritask.embedding import Embedder
from veritask.memory.kb import KnowledgeBase, Passage
from veritask.memory.kb_reader import Reading, candidates, rank, read
from veritask.memory.kb_text import (
    MAX_ANSWER_WORDS,
    coverage,
    is_instruction,
    question_terms,
    sentences,
)

DEFAULT_THRESHOLD = 0.5
"""Confidence an answer needs; below it `kb_answer` abstains. At 0.5 an answer is
never "confidently wrong" by the benchmark's definition without also being answered."""
MIN_COVERAGE = 0.6
"""Share of the question's content words that some retrieved passage (with its headings)
must use (or come within MIN_SIMILARITY in meaning), else the answer abstains."""
MIN_SIMILARITY = 0.55
"""Cosine similarity of question and best passage that counts as on-topic without the words
(paraphrases: "heat up" for "reach 250 degrees"; a crude stemmer missing "watered")."""
MIN_QUOTE_SIMILARITY = 0.45
"""Cosine similarity of question and quoted sentence below which the quote is off-topic
(all-MiniLM-L6-v2: a sentence that answers a question scores above ~0.5)."""
MIN_QUOTE_FOCUS = 0.55
"""Share of the question's rarity-weighted words (`kb_reader` feature ``idf``) a quote
must hold; below it the quote misses what the question asks."""
DECISIVE_MARGIN = 0.15
"""Reader margin (chosen minus rival score, at its worst over re-weightings of the
evidence) at which the choice counts as fully decisive."""


@dataclass(frozen=True)
class Span:
    """A quote: text copied from a passage, with its place in the source file."""

    text: str
    passage: Passage
    start: int
    """Character offset in the source file (exact for md/txt/rst; the passage start for HTML)."""
    end: int
    score: float = 0.0

    @property
    def record_id(self) -> str:
        """``source:start-end`` of the quote."""
        return f"{self.passage.source}:{self.start}-{self.end}"


@dataclass(frozen=True)
class KBAnswer:
    """An answer quoted from the knowledge base, or an abstention that says what was searched."""

    question: str
    status: str
    """``answered`` or ``abstained``."""
    text: str
    span: Span | None
    confidence: float
    signals: dict[str, float] = field(default_factory=dict)
    passages: tuple[Passage, ...] = ()
    flagged: tuple[str, ...] = ()
    """record_ids of passages holding instruction-like text (treated as data, never quoted)."""

    @property
    def answered(self) -> bool:
        return self.status == "answered"

    def searched(self) -> str:
        """A sentence on what was searched and what came back, for an abstention."""
        if not self.passages:
            return f"searched the knowledge base for {self.question!r}: no passage matched"
        shown = "; ".join(
            f"{p.source.rsplit('/', 1)[-1]} § {p.heading or '(top)'}" for p in self.passages[:3]
        )
        return (
            f"searched the knowledge base for {self.question!r}: the closest passages "
            f"({shown}) do not state an answer"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: what the `kb_answer` tool returns."""
        span = self.span
        return {
            "answer": self.text if self.answered else "",
            "status": self.status,
            "quote": span.text if span else "",
            "source": span.passage.source if span else "",
            "heading": span.passage.heading if span else "",
            "start": span.start if span else -1,
            "end": span.end if span else -1,
            "confidence": round(self.confidence, 3),
            "searched": self.searched() if not self.answered else "",
        }


def _span(passage: Passage, s: int, e: int, score: float) -> Span:
    text = passage.text[s:e]
    if passage.exact:
        return Span(text, passage, passage.start + s, passage.start + e, score)
    return Span(text, passage, passage.start, passage.end, score)


def score_spans(
    question: str, passages: Sequence[Passage], embedder: Embedder | None = None
) -> list[Span]:
    """Every quotable sentence of ``passages``, scored by the reader, best first."""
    return [
        _span(c.passage, c.start, c.end, c.score)
        for c in rank(candidates(question, passages, embedder))
    ]


def _retrieval_signal(question: str, passages: Sequence[Passage]) -> tuple[float, float]:
    """(similarity, coverage) of the best passage: how relevant anything retrieved is."""
    terms = question_terms(question)
    sim = max((p.similarity for p in passages if p.similarity is not None), default=-1.0)
    cov = max((coverage(terms, p.heading + " " + p.text) for p in passages), default=0.0)
    return sim, cov


def flagged_passages(passages: Sequence[Passage]) -> tuple[str, ...]:
    """record_ids of the passages that hold instruction-like text (kept as data, never quoted)."""
    return tuple(
        p.record_id for p in passages if any(is_instruction(p.text[s:e]) for s, e in sentences(p))
    )


def answer_from(
    question: str,
    passages: Sequence[Passage],
    *,
    embedder: Embedder | None = None,
    model: Any = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> KBAnswer:
    """Quote the answer to ``question`` from ``passages``, or abstain.

    ``model``: a `veritask.models` provider; when given, it votes among the
    reader's best candidates (`kb_reader.model_choice`), and a vote for
    another sentence makes the reading indecisive.
    """
    flagged = flagged_passages(passages)
    reading = read(question, passages, embedder=embedder, model=model)
    chosen = reading.chosen
    if chosen is None:
        return KBAnswer(question, "abstained", "", None, 0.0, {}, tuple(passages), flagged)
    span = _span(chosen.passage, chosen.start, chosen.end, chosen.score)
    sim, cov = _retrieval_signal(question, passages)
    signals: dict[str, float] = {
        "similarity": round(sim, 4),
        "coverage": round(cov, 4),
        **reading.signals,
    }
    confidence, own, decisive = _confidence(
        question, span, sim, cov, reading, vectors=embedder is not None
    )
    signals["answer_passage_coverage"] = round(own, 4)
    signals["decisiveness"] = round(decisive, 4)
    status = "answered" if confidence >= threshold else "abstained"
    text = span.text if status == "answered" else ""
    return KBAnswer(question, status, text, span, confidence, signals, tuple(passages), flagged)


def _confidence(
    question: str,
    chosen: Span,
    best_sim: float,
    best_cov: float,
    reading: Reading,
    *,
    vectors: bool,
) -> tuple[float, float, float]:
    """(confidence, coverage of the question's words by the answer's passage, decisiveness).

    Relevance comes first and multiplies the rest: the answer's passage must
    use the question's words (coverage) and be close to it in meaning
    (similarity). When no retrieved passage uses at least ``MIN_COVERAGE`` of
    the question's words nor comes within ``MIN_SIMILARITY`` of its meaning,
    the documents are about something else and the confidence is capped
    below any threshold; so it is when the quote itself is further than
    ``MIN_QUOTE_SIMILARITY`` from the question in meaning (it shares the
    question's words but talks about something else), and when it holds less
    than ``MIN_QUOTE_FOCUS`` of the question's words weighted by rarity (it
    restates the common ones and misses the one that asks). Decisiveness
    then scales it: a chosen sentence that barely beats its rival, or that
    another weighing of the evidence (or the model) would not choose, is a
    guess among sentences, not an answer.
    """
    terms = question_terms(question)
    p = chosen.passage
    own = coverage(terms, f"{p.heading} {p.text}")
    sim = p.similarity if p.similarity is not None else best_sim
    meaning = own if sim < -0.5 else _squash(sim, 0.25, 0.65)  # no vectors: words only
    relevance = 0.6 * own + 0.4 * meaning
    decisive = _squash(reading.worst_margin, 0.0, DECISIVE_MARGIN)
    if reading.model_agrees is False:
        decisive *= 0.5
    confidence = relevance * (0.3 + 0.7 * decisive)
    if best_cov < MIN_COVERAGE and best_sim < MIN_SIMILARITY:
        confidence = min(confidence, 0.3)
    if vectors and reading.signals.get("reader_sim", 1.0) < MIN_QUOTE_SIMILARITY:
        confidence = min(confidence, 0.3)  # the quote shares words, not meaning
    if reading.signals.get("reader_idf", 1.0) < MIN_QUOTE_FOCUS:
        confidence = min(confidence, 0.3)  # the quote lacks the question's distinctive words
    return max(0.0, min(1.0, confidence)), own, decisive


def _squash(x: float, lo: float, hi: float) -> float:
    return max(0.0, min(1.0, (x - lo) / (hi - lo)))


def answer(
    kb: KnowledgeBase,
    question: str,
    k: int = 5,
    *,
    model: Any = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> KBAnswer:
    """Search ``kb`` for ``question`` and quote the answer (or abstain)."""
    return answer_from(
        question, kb.search(question, k), embedder=kb.embedder, model=model, threshold=threshold
    )


__all__ = [
    "DEFAULT_THRESHOLD",
    "MAX_ANSWER_WORDS",
    "KBAnswer",
    "Span",
    "answer",
    "answer_from",
    "flagged_passages",
    "is_instruction",
    "question_terms",
    "score_spans",
    "sentences",
]
