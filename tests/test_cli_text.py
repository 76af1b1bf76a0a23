"""`summarise`: one line of a given width that keeps a value's shape and says what it left out."""

from __future__ import annotations

import time

import pytest

from veritask.cli_text import summarise

FRANCE = {"name": "France", "iso": "FR", "capital": "Paris", "population": 66987244}


@pytest.mark.parametrize("width", [1, 5, 12, 20, 30, 45, 80, 200])
def test_never_wider_than_asked(width: int) -> None:
    for value in (FRANCE, [FRANCE] * 30, "x" * 1000, 10**4000, None, 1.5, {"a": [[[[1]]]]}):
        assert len(summarise(value, width)) <= width


def test_keeps_whole_fields_and_counts_the_rest() -> None:
    assert summarise(FRANCE, 30) == "name=France, iso=FR, … +2 more"
    assert summarise(FRANCE, 200) == "name=France, iso=FR, capital=Paris, population=66987244"
    assert summarise(["a", "b", "c"], 80) == "a, b, c"
    assert summarise({"n": {"a": 1, "b": [1, 2]}}, 80) == "n={a=1, b=[1, 2]}"


def test_a_nested_container_that_does_not_fit_is_counted() -> None:
    assert summarise({"neighbours": list(range(50))}, 24) == "neighbours=[50 items]"


def test_huge_values_cost_what_is_shown() -> None:
    big = "a" * 50_000_000
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    started = time.perf_counter()
    assert summarise(big, 40) == "a" * 20 + "… (50,000,000 chars)"
    assert summarise({"a": deep}, 40) == "a=[[[[1 item]]]]"
    assert summarise(10**100_000, 40).startswith("<integer of about 100,")
    assert time.perf_counter() - started < 1.0


def test_credentials_are_hidden() -> None:
    text = summarise({"api_key": "abcd1234", "note": "sk-" + "a" * 30, "ref": "$env:KEY"}, 80)
    assert "abcd1234" not in text and "aaaa" not in text
    assert "api_key=***" in text and "$env:KEY" in text


def test_floats_read_as_numbers_people_write() -> None:
    assert summarise({"population": 66987244.0, "sum": 0.1 + 0.2}, 80) == (
        "population=66987244, sum=0.3"
    )
