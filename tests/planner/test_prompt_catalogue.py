"""The catalogue lines every planner call reads: short, and without repeating the Fields list.

An invented greenhouse: the tools' docstrings are written the way users write
them (a colon list of what comes back, an "e.g." clause), and the line the
planner shows must keep what a model needs (the summary, the parameters,
every field) and drop only what the line says anyway.
"""

from __future__ import annotations

import uuid
from typing import TypedDict

from veritask import tool
from veritask.planner.prompt import tool_line
from veritask.tools.registry import spec_of

SUFFIX = uuid.uuid4().hex[:6]


class Bed(TypedDict):
    crop: str
    area_m2: float
    sown: str


@tool(name=f"bed_{SUFFIX}", idempotent=True)
def bed(bed_name: str) -> Bed:
    """Facts about a greenhouse bed: crop, area_m2, sown. Beds are numbered by row."""
    return Bed(crop="basil", area_m2=2.0, sown="2026-03-01")


@tool(name=f"warmer_{SUFFIX}", idempotent=True)
def warmer(first: str, second: str) -> str:
    """Which of two beds is warmer, e.g. the one nearer the boiler. Reads the sensors."""
    return first


@tool(name=f"note_{SUFFIX}", idempotent=True)
def note(bed_name: str) -> str:
    """The gardener's note: what was done to a bed, in words."""
    return "watered"


def line(fn: object) -> str:
    return tool_line(spec_of(fn))  # type: ignore[arg-type]


def test_a_colon_list_of_the_fields_gives_way_to_the_fields_list() -> None:
    assert line(bed) == (
        f"- bed_{SUFFIX}(bed_name): Facts about a greenhouse bed. Fields: area_m2, crop, sown"
    )


def test_an_example_clause_is_dropped_and_the_first_sentence_kept_whole() -> None:
    # Splitting at every "." used to leave "…is warmer, e".
    assert line(warmer) == f"- warmer_{SUFFIX}(first, second): Which of two beds is warmer"


def test_a_colon_that_introduces_no_fields_is_kept() -> None:
    assert line(note) == (
        f"- note_{SUFFIX}(bed_name): The gardener's note: what was done to a bed, in words"
    )


@tool(name=f"price_{SUFFIX}", idempotent=True)
def price(item: str) -> float:
    """Price of an item (e.g. 'apple') in euros. Updated daily."""
    return 1.0


@tool(name=f"clock_{SUFFIX}", idempotent=True)
def clock(bed_name: str) -> str:
    """E.g. the watering time of a bed."""
    return "06:00"


def test_a_parenthesised_example_goes_and_the_rest_of_the_sentence_stays() -> None:
    assert line(price) == f"- price_{SUFFIX}(item): Price of an item in euros"


def test_a_sentence_that_is_only_an_example_is_kept_rather_than_emptied() -> None:
    assert line(clock) == f"- clock_{SUFFIX}(bed_name): E.g. the watering time of a bed"
