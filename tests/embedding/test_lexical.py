"""The BM25 fallback: what the planner uses when no model is available."""

from __future__ import annotations

import pytest

from veritask.embedding import bm25_scores
from veritask.embedding.lexical import stem, tokens


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("supplies", "supplier"),
        ("suppliers", "supply"),
        ("restocked", "restock"),
        ("restocking", "restock"),
        ("prices", "price"),
        ("cities", "city"),
        ("shipped", "shipping"),
    ],
)
def test_stem_joins_inflections(a: str, b: str) -> None:
    assert stem(a) == stem(b)


def test_stem_leaves_unrelated_words_apart() -> None:
    assert stem("price") != stem("population")
    assert stem("glass") == "glass"


def test_tokens_split_snake_case_and_drop_stop_words() -> None:
    assert tokens("The restock_date of it") == ["restock", "dat"]


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("when was the item restocked?", 2),
        ("who supplies the widgets", 1),
        ("prices of the products", 0),
        ("how many cities", 3),
    ],
)
def test_bm25_ranks_matching_doc_first(query: str, best: int) -> None:
    docs = ["price in US dollars", "supplier name", "restock date", "number of cities"]
    scores = bm25_scores(query, docs)
    assert len(scores) == len(docs)
    assert max(range(len(docs)), key=scores.__getitem__) == best
    assert scores[best] > 0
    assert all(s == 0 for i, s in enumerate(scores) if i != best)


def test_bm25_edge_cases() -> None:
    assert bm25_scores("anything", []) == []
    assert bm25_scores("", ["a doc"]) == [0.0]
    assert bm25_scores("zebra", ["price", "area"]) == [0.0, 0.0]
