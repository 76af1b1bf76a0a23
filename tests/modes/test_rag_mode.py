"""The plain-RAG baseline: same retriever, passages in the prompt, free generation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from helpers.kb import ingest_manual
from modes._helpers import make_scripted
from veritask.errors import UserError
from veritask.pipeline.modes.rag import answer_text, cited_passages
from veritask.types import AnswerStatus, OutcomeStatus

QUESTION = "How long does the deck oven need to heat up?"


@pytest.fixture
def kb_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return ingest_manual(tmp_path, monkeypatch)


def test_retrieves_with_kb_search_and_answers_from_the_prompt(kb_dir: Path) -> None:
    orch, model = make_scripted(["The deck oven needs 45 minutes [1]."], knowledge=["manual"])
    result = orch.run(QUESTION, mode="rag")

    answer = result.answer
    assert answer is not None and answer.status is AnswerStatus.ANSWERED
    assert answer.text == "The deck oven needs 45 minutes [1]."
    assert answer.value == 45  # the citation "[1]" is not a second number
    # The retriever is the kb toolkit's search, logged as task r1 with its passages.
    [(tid, outcome)] = result.outcomes.items()
    assert tid == "r1" and outcome.status is OutcomeStatus.SUCCEEDED
    assert outcome.evidence[0].tool == "kb_search"
    passages = outcome.value
    assert 1 <= len(passages) <= 5
    assert any("needs 45 minutes" in p["text"] for p in passages)
    assert answer.claims[0].task_ids == ["r1"]
    # One free generation: no grammar, every passage numbered in the prompt.
    [call] = model.calls
    assert call.grammar is None and call.logprobs
    assert "use the following pieces of retrieved context" in call.system.lower()
    for i, p in enumerate(passages, start=1):
        assert f"[{i}] ({Path(p['source']).name}" in call.prompt
    assert call.prompt.endswith(f"Question: {QUESTION}\nAnswer:")
    # Its only judgement is the model's token likelihood (0.8 per token here).
    assert answer.confidence.method.value == "logprob"
    assert math.isclose(answer.confidence.score, 0.8, abs_tol=1e-6)
    assert answer.confidence.signals["cited"] == [1]


def test_free_generation_is_not_checked_against_the_passages(kb_dir: Path) -> None:
    """What the baseline lacks: a number in no passage is answered all the same."""
    orch, _ = make_scripted(["It needs 90 minutes."], knowledge=["manual"])
    answer = orch.run(QUESTION, mode="rag").answer
    assert answer is not None and answer.status is AnswerStatus.ANSWERED
    assert answer.value == 90


def test_model_saying_it_does_not_know_abstains(kb_dir: Path) -> None:
    orch, _ = make_scripted(["I don't know."], knowledge=["manual"])
    answer = orch.run("What is the capital of Mongolia?", mode="rag").answer
    assert answer is not None and answer.status is AnswerStatus.ABSTAINED
    assert answer.confidence.score == 0.0
    assert "do not answer it" in answer.gaps[0]


def test_rag_mode_without_a_knowledge_base_is_a_usage_error() -> None:
    orch, model = make_scripted(["anything"])
    with pytest.raises(UserError, match="--kb NAME"):
        orch.run(QUESTION, mode="rag")
    assert model.calls == []


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("Answer: 45 minutes [1]\nmore", "45 minutes [1]"),
        ("\n\n  It is 45 minutes.  ", "It is 45 minutes."),
        ("Answer:", ""),
    ],
)
def test_answer_text_is_the_first_line(raw: str, text: str) -> None:
    assert answer_text(raw) == text


def test_cited_passages_are_those_in_range() -> None:
    assert cited_passages("see [2] and [1], not [9] or [0]", 5) == [1, 2]


def test_bench_runs_rag_mode_and_scores_it_with_the_same_scorer(
    kb_dir: Path, tmp_path: Path
) -> None:
    from veritask.bench.runner import BenchConfig, run_suite
    from veritask.bench.score import score
    from veritask.bench.suite import load_results, load_suite
    from veritask.models import ScriptedModel

    suite = tmp_path / "suite.jsonl"
    suite.write_text(
        '{"id": "oven", "question": "How long does the deck oven need to heat up?",'
        ' "answer": "45 minutes"}\n'
        '{"id": "feed", "question": "How often is the sourdough starter fed?",'
        ' "answer": "twice a day"}\n'
        '{"id": "none", "question": "What is the capital of Mongolia?", "answer": null}\n',
        encoding="utf-8",
    )
    model = ScriptedModel(
        ["45 minutes [1]", "Three times a day [2]", "I do not know."], token_prob=0.9
    )
    out = tmp_path / "rag.jsonl"
    config = BenchConfig(mode="rag", knowledge=("manual",), store="memory://")
    run_suite(load_suite(suite), out, config, model=model)
    rows = load_results(out)
    assert {k: r["status"] for k, r in rows.items()} == {
        "oven": "answered",
        "feed": "answered",
        "none": "abstained",
    }
    scores = score(load_suite(suite), rows)
    assert scores.coverage == pytest.approx(2 / 3)
    assert scores.confident_wrong == 1  # the free answer "three times a day" at 0.9
    assert scores.abstention_unanswerable == 1.0
