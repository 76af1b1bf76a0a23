"""Score result lines against a suite's answers.

Definitions (all over the *scored* questions: suite questions that have a
result line; `missing` counts the others):

- **right**: an answerable question whose status is `answered` and whose
  answer matches; an unanswerable one (``answer: null``) whose status is
  `abstained`. A `partial` answer is a hedge: never right, never an answer.
- **completion rate**: share whose run ended with an answer or a reasoned
  abstention (status other than `failed`).
- **coverage**: share `answered`. **selective accuracy**: right among
  answered (an answered unanswerable question is wrong). **accuracy**: right
  over all scored.
- **confident-wrong**: answered, wrong, confidence >= 0.5.
- **risk–coverage / AURC**: questions ranked by confidence, most confident
  first; at coverage k/n the risk is the share not right among the top k.
  Ties are broken by expectation (every member of a tie gets the tie's mean
  loss), so the curve does not depend on file order. AURC is the mean risk
  over k = 1..n: 0 is perfect, lower is better.
- **ECE** (10 equal-width bins) over answered questions: confidence is a
  claim about a stated answer, so abstentions have nothing to calibrate.

Matching: a number is parsed from `value` (a number, a numeric string, or
the first number in a dict/list); only if `value` holds none, any number in
the `answer` text within tolerance counts. Strings compare case- and
accent-insensitively, equal or contained as whole words, in `value` when it
is a plain text value, else in the `answer` text (so "Mali has fewer people
than Puerto Rico" with value "Puerto Rico" is not rescued by its text, and
a number parsed out of "radix 10" does not stand for the text gold "radix 10"). In free
text, when the question offers named options ("Mali or Puerto Rico?"), the
gold must be the first of them the text names.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from veritask.bench.suite import Question, load_results

CONFIDENT = 0.5
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_SCALED = re.compile(
    r"([-+]?\d[\d,]*(?:\.\d+)?)\s*(thousand|million|billion|trillion)\b", re.IGNORECASE
)


def normalize_text(text: str) -> str:
    """Casefolded, accents stripped, punctuation to spaces, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def numbers_in(text: str) -> list[float]:
    """Every number in `text`, with thousands separators and million/billion words."""
    out = []
    for m in _SCALED.finditer(text):
        out.append(float(m.group(1).replace(",", "")) * _SCALE[m.group(2).lower()])
    for m in _NUMBER.finditer(text):
        try:
            out.append(float(m.group(0).replace(",", "")))
        except ValueError:
            continue
    return out


def number_from_value(value: Any) -> float | None:
    """The number a result's `value` holds, if any (bools are not numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        found = numbers_in(value)
        return found[0] if found else None
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            got = number_from_value(item)
            if got is not None:
                return got
    return None


def _close(got: float, gold: float, tolerance: float) -> bool:
    if gold == 0:
        return abs(got) <= tolerance
    return abs(got - gold) <= tolerance * abs(gold)


def answer_matches(question: Question, row: dict[str, Any]) -> bool:
    """Does the result's value/answer match the gold answer (ignoring status)?"""
    gold = question.gold
    value, text = row.get("value"), str(row.get("answer") or "")
    if gold is None:
        return False
    if isinstance(gold, int | float) and not isinstance(gold, bool):
        tol = question.tolerance or 0.0
        got = number_from_value(value)
        if got is not None:
            return _close(got, float(gold), tol)
        return any(_close(n, float(gold), tol) for n in numbers_in(text))
    want = normalize_text(str(gold))
    if not want:
        return False
    # A number parsed out of a text answer ("radix 10" -> 10) is not the text the gold
    # names; the answer's own words are what to compare then.
    number = isinstance(value, int | float) and not isinstance(value, bool)
    plain = value is not None and not isinstance(value, dict | list) and not number
    have = f" {normalize_text(str(value) if plain else text)} "
    if f" {want} " not in have and not (plain and _same_but_plural(have.strip(), want)):
        return False
    if plain:
        return True
    return _names_gold_first(question, have, want)


def _same_but_plural(have: str, want: str) -> bool:
    """A value that is the gold name in the plural ("Padlocks" for "Padlock"): the
    question's own spelling of the thing, not another thing."""
    return have in (f"{want}s", f"{want}es") or want in (f"{have}s", f"{have}es")


_OFFERS_CHOICE = re.compile(r"[A-Z][\w'-]*,?\s+or\s+[A-Z]|\b[Ww]hich of\b")
"""A question that offers named options: "…, Puerto Rico or Mali?" (not the operator in
"What do the Boolean operations or and and return?")."""
_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+(?:and\s+|of\s+|the\s+)?[A-Z][\w'-]*)*")


def _names_gold_first(question: Question, have: str, want: str) -> bool:
    """For a choice between names in the question ("A or B?"), free text must name
    the gold before the other names; "B has more people than A" is not "A"."""
    if not _OFFERS_CHOICE.search(question.question):
        return True  # "What is a Python program built from?" names a subject, not options
    rivals = {normalize_text(n) for n in _NAME.findall(question.question)[1:]} - {want, ""}
    at = have.find(f" {want} ")
    return not any(0 <= have.find(f" {r} ") < at for r in rivals)


def is_right(question: Question, row: dict[str, Any]) -> bool:
    """Right behaviour: a matching answer, or an abstention when there is no answer."""
    status = row.get("status")
    if question.gold is None:
        return status == "abstained"
    return status == "answered" and answer_matches(question, row)


def risk_coverage(pairs: Sequence[tuple[float, bool]]) -> tuple[list[tuple[float, float]], float]:
    """(curve as [(coverage, risk)], AURC) for (confidence, right) pairs; see module doc."""
    n = len(pairs)
    if n == 0:
        return [], float("nan")
    ordered = sorted(pairs, key=lambda p: -p[0])
    curve: list[tuple[float, float]] = []
    wrong = 0.0
    k = 0
    i = 0
    while i < n:
        j = i
        while j < n and ordered[j][0] == ordered[i][0]:
            j += 1
        group_loss = sum(0.0 if right else 1.0 for _, right in ordered[i:j]) / (j - i)
        for _ in range(i, j):
            k += 1
            wrong += group_loss
            curve.append((k / n, wrong / k))
        i = j
    aurc = sum(risk for _, risk in curve) / n
    return curve, aurc


def expected_calibration_error(pairs: Sequence[tuple[float, bool]], bins: int = 10) -> float:
    """ECE: sum over equal-width bins of |accuracy - mean confidence| weighted by bin size."""
    if not pairs:
        return float("nan")
    buckets: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for conf, right in pairs:
        c = min(max(conf, 0.0), 1.0)
        buckets[min(int(c * bins), bins - 1)].append((c, right))
    total = 0.0
    for bucket in buckets:
        if bucket:
            acc = sum(1 for _, r in bucket if r) / len(bucket)
            mean_conf = sum(c for c, _ in bucket) / len(bucket)
            total += len(bucket) / len(pairs) * abs(acc - mean_conf)
    return total


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100]); nan for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@dataclass
class Scores:
    """Metrics for one result file (see the module docstring for definitions)."""

    label: str
    n: int
    missing: int
    completion_rate: float
    coverage: float
    selective_accuracy: float
    accuracy: float
    confident_wrong: int
    unanswerable: int
    abstention_unanswerable: float
    aurc: float
    ece: float
    latency_p50_s: float
    latency_p95_s: float
    tokens_per_question: float
    usd_per_question: float
    statuses: dict[str, int] = field(default_factory=dict)
    curve: list[tuple[float, float]] = field(default_factory=list)
    right_ids: list[str] = field(default_factory=list)
    scored_ids: list[str] = field(default_factory=list)
    mode: str = ""
    faults: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, val in data.items():
            if isinstance(val, float) and math.isnan(val):
                data[key] = None
        data["curve"] = [[round(c, 4), round(r, 4)] for c, r in self.curve]
        return data


def _ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


def score(
    questions: Sequence[Question], results: dict[str, dict[str, Any]], label: str = ""
) -> Scores:
    """Scores for `results` (by id) against `questions` (those with a result line)."""
    scored = [(q, results[q.id]) for q in questions if q.id in results]
    n = len(scored)
    rights = {q.id: is_right(q, row) for q, row in scored}
    answered = [(q, row) for q, row in scored if row.get("status") == "answered"]
    statuses: dict[str, int] = {}
    for _, row in scored:
        s = str(row.get("status"))
        statuses[s] = statuses.get(s, 0) + 1
    unanswerable = [(q, row) for q, row in scored if q.gold is None]
    conf = [(float(row.get("confidence") or 0.0), rights[q.id]) for q, row in scored]
    answered_conf = [(float(row.get("confidence") or 0.0), rights[q.id]) for q, row in answered]
    curve, aurc = risk_coverage(conf)
    latencies = [float(row.get("latency_s") or 0.0) for _, row in scored]
    tokens = [
        float(row.get("input_tokens") or 0) + float(row.get("output_tokens") or 0)
        for _, row in scored
    ]
    usd = [float(row.get("cost_usd") or 0.0) for _, row in scored]
    return Scores(
        label=label,
        n=n,
        missing=len(questions) - n,
        completion_rate=_ratio(sum(1 for _, r in scored if r.get("status") != "failed"), n),
        coverage=_ratio(len(answered), n),
        selective_accuracy=_ratio(sum(1 for q, _ in answered if rights[q.id]), len(answered)),
        accuracy=_ratio(sum(rights.values()), n),
        confident_wrong=sum(
            1
            for q, row in answered
            if not rights[q.id] and float(row.get("confidence") or 0.0) >= CONFIDENT
        ),
        unanswerable=len(unanswerable),
        abstention_unanswerable=_ratio(
            sum(1 for _, r in unanswerable if r.get("status") == "abstained"), len(unanswerable)
        ),
        aurc=aurc,
        ece=expected_calibration_error(answered_conf),
        latency_p50_s=percentile(latencies, 50),
        latency_p95_s=percentile(latencies, 95),
        tokens_per_question=_ratio(sum(tokens), n),
        usd_per_question=_ratio(sum(usd), n),
        statuses=statuses,
        curve=curve,
        right_ids=sorted(q for q, ok in rights.items() if ok),
        scored_ids=sorted(rights),
    )


def score_file(questions: Sequence[Question], path: str | Path) -> Scores:
    """Score one results file; mode and fault rate come from its sidecar when present."""
    from veritask.bench.runner import read_meta

    path = Path(path)
    scores = score(questions, load_results(path), label=path.stem)
    config = read_meta(path).get("config", {})
    scores.mode = str(config.get("mode") or "")
    scores.faults = float(config.get("faults") or 0.0)
    return scores


__all__ = [
    "CONFIDENT",
    "Scores",
    "answer_matches",
    "expected_calibration_error",
    "is_right",
    "normalize_text",
    "number_from_value",
    "numbers_in",
    "percentile",
    "risk_coverage",
    "score",
    "score_file",
]
