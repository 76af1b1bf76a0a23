"""The `kb` toolkit: entry point, Orchestrator(knowledge=...), quoted answers and abstention."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.kb import ingest_manual
from veritask import Orchestrator
from veritask.models import ScriptedModel
from veritask.tools.toolkit import find_toolkit


@pytest.fixture
def kb_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return ingest_manual(tmp_path, monkeypatch)


def _plan(question: str) -> dict[str, object]:
    return {
        "goal": question,
        "tasks": [{"id": "t1", "tool": "kb_answer", "args": {"question": question}}],
        "answer_template": "{$t1.answer}",
    }


def test_entry_point_toolkit_is_registered() -> None:
    kit = find_toolkit("kb")
    assert kit.name == "kb"
    assert {s.name for s in kit.specs} == {"kb_search", "kb_answer"}
    assert kit.plans  # its example plans validate against its tools


def test_knowledge_replaces_the_default_toolkits(kb_dir: Path) -> None:
    orch = Orchestrator("memory://", knowledge=["manual"], memory=False)
    assert [t.name for t in orch.toolkits] == ["kb"]
    assert "kb_answer" in orch.registry
    both = Orchestrator("memory://", knowledge=["manual"], toolkits=["geo"], memory=False)
    assert [t.name for t in both.toolkits] == ["geo", "kb"]


def test_kb_search_returns_passages_as_evidence(kb_dir: Path) -> None:
    orch = Orchestrator("memory://", knowledge=["manual"], memory=False)
    result = orch.execute(
        {"goal": "g", "tasks": [{"id": "t1", "tool": "kb_search", "args": {"query": "sesame"}}]}
    )
    outcome = result.outcomes["t1"]
    assert outcome.ok and "sesame" in outcome.value[0]["text"]
    first = outcome.evidence[0]
    assert first.tool == "kb_search" and first.record_id is not None
    source, span = first.record_id.rsplit(":", 1)
    start, end = map(int, span.split("-"))
    assert Path(source).read_text(encoding="utf-8")[start:end] == outcome.value[0]["text"]


def test_run_answers_with_a_quote_and_its_citation(kb_dir: Path) -> None:
    question = "How long does the deck oven need to heat up?"
    steps = f'1. kb_answer("{question}")\nAnswer: {{$1.answer}}\n'
    orch = Orchestrator(
        "memory://", knowledge=["manual"], model=ScriptedModel(default=steps), memory=False
    )
    result = orch.run(question)
    answer = result.answer
    assert answer is not None and answer.status.value == "answered", answer
    assert "45 minutes" in answer.text
    assert "bakery.md § Harbor Bakery operations manual > Opening the kitchen" in answer.text
    value = result.outcomes["t1"].value
    original = Path(value["source"]).read_text(encoding="utf-8")
    assert original[value["start"] : value["end"]] == value["quote"]
    assert answer.confidence.signals["grounding"] == "ok"


def test_unanswerable_question_abstains_and_says_what_was_searched(kb_dir: Path) -> None:
    orch = Orchestrator("memory://", knowledge=["manual"], memory=False)
    result = orch.execute(_plan("What is the capital of Mongolia?"))
    answer = result.answer
    assert result.outcomes["t1"].status.value == "failed"
    assert result.outcomes["t1"].error is not None
    assert "searched the knowledge base for 'What is the capital of Mongolia?'" in (
        result.outcomes["t1"].error.message
    )
    if answer is not None:
        assert answer.status.value in ("abstained", "failed")


def test_a_topic_cut_from_the_question_is_read_as_the_question(kb_dir: Path) -> None:
    # A small planner writes kb_answer("deck oven") for the question; a topic asks nothing,
    # so the planner passes the question as asked (kb_answer's parameter is a `Question`),
    # and the evidence says what was read.
    question = "How long does the deck oven need to heat up?"
    steps = '1. kb_answer("deck oven")\nAnswer: {$1.answer}\n'
    orch = Orchestrator(
        "memory://", knowledge=["manual"], model=ScriptedModel(default=steps), memory=False
    )
    result = orch.run(question)
    outcome = result.outcomes["t1"]
    assert outcome.ok and "45 minutes" in outcome.value["quote"]
    assert outcome.evidence[0].query == {"question": question}


def test_a_plan_written_by_hand_runs_its_arguments_as_written(kb_dir: Path) -> None:
    # Only plans the model writes are rewritten: a plan file says exactly what runs.
    plan = {
        "goal": "How long does the deck oven need to heat up?",
        "tasks": [{"id": "t1", "tool": "kb_answer", "args": {"question": "deck oven"}}],
        "answer_template": "{$t1.answer}",
    }
    result = Orchestrator("memory://", knowledge=["manual"], memory=False).execute(plan)
    assert result.outcomes["t1"].evidence[0].query == {"question": "deck oven"}


def test_missing_kb_fails_the_task_with_the_ingest_command(kb_dir: Path) -> None:
    orch = Orchestrator("memory://", knowledge=["nosuch"], memory=False)
    result = orch.execute(_plan("How long does the deck oven need to heat up?"))
    error = result.outcomes["t1"].error
    assert error is not None and "veritask ingest PATH --kb nosuch" in error.message


def test_pydoc_suite_answers_are_spans_of_their_cited_topic() -> None:
    """The dev suite's ground truth: 60+ answerable questions whose answer is a short
    span (at most 15 words) of the topic it cites, 10+ unanswerable ones, an injection."""
    import json
    from pydoc_data.topics import topics

    suite = Path(__file__).parents[2] / "bench" / "suites" / "pydoc.jsonl"
    rows = [json.loads(line) for line in suite.read_text(encoding="utf-8").splitlines()]
    assert len({r["id"] for r in rows}) == len(rows)
    answerable = [r for r in rows if r["answerable"]]
    plain = [r for r in answerable if not r.get("injection")]
    assert len(plain) >= 60 and len(rows) - len(answerable) >= 10
    assert len({r["question"] for r in rows}) == len(rows)
    assert any(r.get("injection") for r in rows)
    for r in answerable:
        text = " ".join(topics[r["source"].removesuffix(".txt")].split())
        assert " ".join(r["answer"].split()) in text, r["id"]
        assert 1 <= len(r["answer"].split()) <= 15, r["id"]
    for r in rows:
        if not r["answerable"]:
            assert r["answer"] is None and "source" not in r, r["id"]


def test_a_number_quoted_from_a_document_feeds_calc(kb_dir: Path) -> None:
    # Composition: kb_answer quotes, llm.extract copies the number out of the quote (a span
    # of it, never new words), calc computes with it; each step cites what it read.
    plan = {
        "goal": "How many minutes do two heat-ups of the deck oven take?",
        "tasks": [
            {
                "id": "t1",
                "tool": "kb_answer",
                "args": {"question": "How long does the deck oven need to heat up?"},
            },
            {
                "id": "t2",
                "tool": "llm.extract",
                "args": {"text": "$t1.quote", "what": "the number of minutes"},
            },
            {"id": "t3", "tool": "calc", "args": {"expression": "2 * $t2"}},
        ],
        "answer_template": "Two heat-ups take {$t3} minutes ({$t1.answer}).",
    }
    orch = Orchestrator(
        "memory://",
        knowledge=["manual"],
        toolkits=["llm"],
        model=ScriptedModel(default="45"),
        memory=False,
    )
    result = orch.execute(plan)
    assert result.outcomes["t2"].value == "45"
    assert result.outcomes["t3"].value == 90
    # A number the quote does not hold cannot be extracted: the span grammar refuses it.
    wrong = Orchestrator(
        "memory://",
        knowledge=["manual"],
        toolkits=["llm"],
        model=ScriptedModel(default="60"),
        memory=False,
    ).execute(plan)
    assert not wrong.outcomes["t3"].ok
