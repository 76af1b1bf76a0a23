"""A 3-question suite and a scripted planner model for the bench smoke tests."""

from __future__ import annotations

import json
from pathlib import Path

from veritask.testing import ScriptedCall, ScriptedModel
from veritask.tools import default_registry

PLANS = {
    "France": '1. country_facts("France")\nAnswer: France has {$1.population} people.\n',
    "Paris": '1. country_by_capital("Paris")\nAnswer: Paris is in {$1.continent}.\n',
    "Atlantis": '1. country_facts("Atlantis")\nAnswer: Atlantis has {$1.population} people.\n',
}


def france_population() -> int:
    facts = default_registry().get("country_facts").fn("France")
    return int(facts.value["population"])


def write_suite(path: Path) -> Path:
    rows = [
        {
            "id": "s1",
            "question": "What is the population of France?",
            "kind": "pop",
            "answer": france_population(),
            "tolerance": 0.01,
        },
        {
            "id": "s2",
            "question": "On which continent is the country whose capital is Paris?",
            "kind": "continent",
            "answer": "Europe",
            "tolerance": None,
        },
        {
            "id": "s3",
            "question": "What is the population of Atlantis?",
            "kind": "unanswerable",
            "answer": None,
            "tolerance": None,
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _plan_for(call: ScriptedCall) -> str:
    # The planner sends the question as the last user message (after example turns).
    for entity, plan in PLANS.items():
        if entity in call.prompt:
            return plan
    raise AssertionError(f"no scripted plan for {call.prompt[-200:]!r}")


def planner_model() -> ScriptedModel:
    """Answers every planning call with the valid plan for the question in the prompt."""
    return ScriptedModel(default=_plan_for, name="scripted")
