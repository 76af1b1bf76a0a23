"""Every question is bounded in time by default, whatever the model does."""

from __future__ import annotations

from veritask import Orchestrator, Settings
from veritask.models import ScriptedModel
from veritask.models.scripted import HANG
from veritask.types import EventType


def test_a_model_that_never_answers_ends_the_question_at_its_default_budget() -> None:
    settings = Settings(question_seconds=0.3, store="memory://")
    model = ScriptedModel(default=HANG)
    orch = Orchestrator(settings=settings, model=model, memory=False)
    result = orch.run("What is the population of France?")
    answer = result.answer
    assert answer is not None and answer.status.value == "abstained"
    assert "time budget (0.3 s) ran out while planning" in answer.text
    assert result.status.value == "failed"
    types = [e.type for e in orch.store.events(result.run_id)]
    assert EventType.BUDGET_EXCEEDED in types and types[-1] == EventType.RUN_FINISHED


def test_the_baseline_modes_are_bounded_too() -> None:
    settings = Settings(question_seconds=0.3, store="memory://")
    orch = Orchestrator(settings=settings, model=ScriptedModel(default=HANG), memory=False)
    result = orch.run("What is the population of France?", mode="single-agent")
    assert result.answer is not None and result.answer.status.value == "abstained"
    text = result.answer.text
    assert "ran out while answering" in text or "budget for seconds exceeded" in text


def test_an_explicit_budget_wins_over_the_default() -> None:
    from veritask.config import Budget

    settings = Settings(question_seconds=600, store="memory://")
    orch = Orchestrator(
        settings=settings,
        model=ScriptedModel(default=HANG),
        memory=False,
        budget=Budget(max_seconds=0.2),
    )
    result = orch.run("What is the population of France?")
    assert result.answer is not None and "(0.2 s)" in result.answer.text
