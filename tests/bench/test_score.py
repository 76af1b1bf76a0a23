"""Scoring on hand-made result files whose metrics are worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veritask.bench.score import (
    answer_matches,
    expected_calibration_error,
    number_from_value,
    numbers_in,
    risk_coverage,
    score,
    score_file,
)
from veritask.bench.suite import Question, load_suite, result_line

SUITE = [
    {"id": "a", "question": "qa", "answer": 100, "tolerance": 0.01},
    {"id": "b", "question": "qb", "answer": "Europe", "tolerance": None},
    {"id": "c", "question": "qc", "answer": None},
    {"id": "d", "question": "qd", "answer": 50, "tolerance": 0.1},
    {"id": "e", "question": "qe", "answer": "Côte d'Ivoire"},
    {"id": "f", "question": "qf", "answer": None},
    {"id": "g", "question": "qg", "answer": 3, "tolerance": 0.0},
]
# (status, value, confidence): a, b right; c answers an unanswerable; d is 20% off;
# e abstains on an answerable one; f abstains rightly; g failed.
RESULTS = {
    "a": ("answered", 100.5, 0.9),
    "b": ("answered", "europe", 0.8),
    "c": ("answered", 7, 0.7),
    "d": ("answered", 60, 0.6),
    "e": ("abstained", None, 0.2),
    "f": ("abstained", None, 0.1),
    "g": ("failed", None, 0.0),
}


def write_files(tmp_path: Path) -> tuple[Path, Path]:
    suite = tmp_path / "suite.jsonl"
    suite.write_text("".join(json.dumps(r) + "\n" for r in SUITE))
    results = tmp_path / "results.jsonl"
    lines = []
    for i, (qid, (status, value, conf)) in enumerate(RESULTS.items(), 1):
        row = result_line(
            id=qid,
            status=status,
            answer=None,
            value=value,
            confidence=conf,
            input_tokens=10,
            output_tokens=5,
            cost_usd=0.001,
            latency_s=float(i),
            run_id=f"r{i}",
        )
        lines.append(json.dumps(row) + "\n")
    results.write_text("".join(lines))
    return suite, results


def test_metrics_match_the_hand_computed_values(tmp_path: Path) -> None:
    suite, results = write_files(tmp_path)
    s = score_file(load_suite(suite), results)
    assert s.n == 7 and s.missing == 0
    assert s.completion_rate == pytest.approx(6 / 7)
    assert s.coverage == pytest.approx(4 / 7)
    assert s.selective_accuracy == pytest.approx(2 / 4)
    assert s.accuracy == pytest.approx(3 / 7)
    assert s.confident_wrong == 2
    assert s.unanswerable == 2 and s.abstention_unanswerable == pytest.approx(0.5)
    # ranked by confidence: R R W W W R W -> risks 0, 0, 1/3, 2/4, 3/5, 3/6, 4/7
    assert s.aurc == pytest.approx((0 + 0 + 1 / 3 + 0.5 + 0.6 + 0.5 + 4 / 7) / 7)
    assert s.curve[-1] == pytest.approx((1.0, 4 / 7))
    # answered only, one per bin: |1-.9| + |1-.8| + |0-.7| + |0-.6| over 4
    assert s.ece == pytest.approx(1.6 / 4)
    assert s.latency_p50_s == pytest.approx(4.0)
    assert s.latency_p95_s == pytest.approx(6.7)
    assert s.tokens_per_question == pytest.approx(15)
    assert s.usd_per_question == pytest.approx(0.001)
    assert s.right_ids == ["a", "b", "f"]
    assert s.statuses == {"answered": 4, "abstained": 2, "failed": 1}


def test_questions_without_a_result_are_counted_missing(tmp_path: Path) -> None:
    suite, _ = write_files(tmp_path)
    questions = load_suite(suite)
    s = score(questions, {"a": {"id": "a", "status": "answered", "value": 100, "confidence": 1}})
    assert s.n == 1 and s.missing == 6 and s.accuracy == 1.0


def test_ties_are_broken_by_expectation_not_file_order() -> None:
    _, aurc_a = risk_coverage([(0.5, True), (0.5, False)])
    _, aurc_b = risk_coverage([(0.5, False), (0.5, True)])
    assert aurc_a == aurc_b == pytest.approx(0.5)
    curve, aurc = risk_coverage([(0.9, True), (0.1, False)])
    assert curve == [(0.5, 0.0), (1.0, 0.5)] and aurc == pytest.approx(0.25)


def test_ece_edges() -> None:
    assert expected_calibration_error([(1.0, True), (0.0, False)]) == 0.0
    assert expected_calibration_error([(1.0, False)]) == pytest.approx(1.0)
    assert expected_calibration_error([(0.55, True), (0.55, False)]) == pytest.approx(0.05)


def test_number_parsing() -> None:
    assert numbers_in("1,234.5 km, -3 and 2 million") == [2e6, 1234.5, -3.0, 2.0]
    assert number_from_value({"distance_km": 12.5, "unit": "km"}) == 12.5
    assert number_from_value(True) is None
    assert number_from_value("about 7,000 people") == 7000.0


def _q(gold: object, tol: float | None = None, question: str = "?") -> Question:
    return Question(id="x", question=question, gold=gold, tolerance=tol, has_gold=True)


def test_matching_rules() -> None:
    assert answer_matches(_q(100, 0.01), {"value": None, "answer": "It is 100.4 per km2"})
    # a value that holds a number wins over numbers in the text
    assert not answer_matches(_q(100, 0.01), {"value": 90, "answer": "100 or 90"})
    assert answer_matches(_q(0, 0.0), {"value": 0})
    assert not answer_matches(_q(6, 0.0), {"value": 7})
    assert answer_matches(_q("Côte d'Ivoire"), {"value": "COTE D'IVOIRE"})
    assert answer_matches(_q("Euro"), {"value": None, "answer": "They pay in the euro."})
    assert not answer_matches(_q("Euro"), {"value": "Europe"})  # whole words only
    assert not answer_matches(_q("Mali"), {"value": "Somalia"})
    # free text must name the gold first among the options the question offers
    which = "Which country has more inhabitants, Puerto Rico or Mali?"
    assert answer_matches(_q("Mali", question=which), {"answer": "Mali has more than Puerto Rico"})
    assert not answer_matches(
        _q("Mali", question=which), {"answer": "Puerto Rico has more inhabitants than Mali."}
    )
    # ...but a name in a question that offers no choice is its subject, not a rival
    built = "What is a Python program constructed from?"
    assert answer_matches(
        _q("code blocks", question=built), {"answer": "A Python program is built from code blocks."}
    )
    ops = "What do the Boolean operations or and and return?"  # "or" here is no choice
    assert answer_matches(_q("operands", question=ops), {"answer": "Boolean ops return operands"})
    # the value decides; the text is read only when there is no value
    assert not answer_matches(_q("Mali"), {"value": "Puerto Rico", "answer": "Mali or Puerto Rico"})
    assert not answer_matches(_q(None), {"value": None})
    # a text gold is compared with the answer's words, not a number parsed out of them
    assert answer_matches(_q("radix 10"), {"value": 10, "answer": "Radix 10 [1]."})
    assert not answer_matches(_q("radix 10"), {"value": 10, "answer": "Radix 2."})


def test_a_name_in_the_plural_of_the_question_is_the_same_name() -> None:
    from veritask.bench.score import answer_matches
    from veritask.bench.suite import Question

    q = Question(id="q", question="Which do we have more of, Wrenches or Padlocks?", gold="Padlock")
    assert answer_matches(q, {"value": "Padlocks", "answer": "Padlocks"})
    assert not answer_matches(q, {"value": "Wrenches", "answer": "Wrenches"})
