"""How many worked examples the planner shows: fewer when one is a near template.

An invented greenhouse toolkit with four examples. Each example is read by
every plan sample, so the least similar is left out when the closest one
already is a near template of the question; a question no example matches
closely keeps the full count (the railway suite lost answers without them).
Scripted model: what is asserted is the prompt the planner builds.
"""

from __future__ import annotations

import uuid
from typing import TypedDict

import pytest

from helpers.routing import ScriptedRouter
from veritask import Toolkit, tool
from veritask.models import ScriptedModel
from veritask.planner.catalog import Catalog
from veritask.planner.planner import Planner, PlannerSettings

SUFFIX = uuid.uuid4().hex[:6]


class Bed(TypedDict):
    crop: str
    area_m2: float
    plants: int


@tool(name="bed", idempotent=True)
def bed(name: str) -> Bed:
    """One greenhouse bed: its crop, its area in square metres and its plant count.

    Args:
        name: the bed's name, e.g. "North".
    """
    return Bed(crop="basil", area_m2=2.0, plants=40)


def example(question: str, name: str, field: str) -> tuple[str, dict[str, object]]:
    return (
        question,
        {
            "tasks": [{"id": "a", "tool": "bed", "args": {"name": name}}],
            "answer_template": f"The {name} bed: {{$a.{field}}}.",
        },
    )


GREENHOUSE = Toolkit(
    name=f"greenhouse{SUFFIX}",
    description="Beds of our greenhouse: crops, areas, plant counts.",
    tools=[bed],
    examples=[
        example("What crop grows in the North bed?", "North", "crop"),
        example("How large is the East bed in square metres?", "East", "area_m2"),
        example("How many plants are in the West bed?", "West", "plants"),
        example("Which vegetable is planted in the South bed?", "South", "crop"),
    ],
)
CATALOG = Catalog.from_toolkits([GREENHOUSE])


def planner(**settings: float) -> Planner:
    model = ScriptedModel(default='1. bed("Cellar")\nAnswer: {$1.crop}.\n')
    return Planner(ScriptedRouter(model), CATALOG, settings=PlannerSettings(**settings))  # type: ignore[arg-type]


def test_a_near_template_among_the_examples_leaves_the_least_similar_out() -> None:
    pairs = planner().example_pairs("What crop grows in the Cellar bed?")
    assert len(pairs) == 2
    assert pairs[-1][0] == "What crop grows in the North bed?"  # the nearest is last


def test_without_a_near_template_every_example_slot_is_used() -> None:
    pairs = planner().example_pairs("Is anything blooming in the Cellar bed this week?")
    assert len(pairs) == 3


def test_the_threshold_is_a_setting() -> None:
    pairs = planner(near_match=1.01).example_pairs("What crop grows in the Cellar bed?")
    assert len(pairs) == 3


def test_without_the_embedding_model_no_example_counts_as_near(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # BM25 scores are relative to the best (always 1.0): they cannot tell a near
    # template from a weak match, so every example slot is used.
    import veritask.planner.planner as planner_module

    monkeypatch.setattr(planner_module, "default_embedder", lambda: None)
    pairs = planner().example_pairs("What crop grows in the Cellar bed?")
    assert len(pairs) == 3
