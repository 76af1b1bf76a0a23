"""The escalation ladder: rungs climbed only under threshold, gated by budget, all logged."""

from __future__ import annotations

import pytest

from veritask import Budget, Orchestrator
from veritask.budget import BudgetMeter
from veritask.errors import BudgetExceeded
from veritask.escalation.ladder import Attempt, Rung, climb
from veritask.models import ScriptedModel
from veritask.types import EventType, Usage


def rung(
    name: str, result: str | None, confidence: float, calls: list[str], **kw: int
) -> Rung[str]:
    async def run() -> Attempt[str]:
        calls.append(name)
        return Attempt(result, confidence)

    return Rung(name, run, **kw)


async def test_no_rung_runs_when_already_confident() -> None:
    calls: list[str] = []
    out = await climb(
        [rung("resample", "x", 0.9, calls)], start=Attempt("a", 0.8), threshold=0.6, meter=None
    )
    assert calls == [] and out.result == "a" and out.steps == []


async def test_climbs_until_confident_and_keeps_the_best() -> None:
    calls: list[str] = []
    rungs = [
        rung("resample", "worse", 0.1, calls),
        rung("stronger_model", "better", 0.7, calls),
        rung("deep_agent", "never", 1.0, calls),
    ]
    out = await climb(rungs, start=Attempt("a", 0.3), threshold=0.6, meter=None)
    assert calls == ["resample", "stronger_model"]
    assert out.result == "better" and out.confidence == 0.7
    assert [(s.rung, s.before, s.after) for s in out.steps] == [
        ("resample", 0.3, 0.3),
        ("stronger_model", 0.3, 0.7),
    ]


async def test_a_rung_that_cannot_fit_the_budget_is_skipped() -> None:
    calls: list[str] = []
    meter = BudgetMeter(Budget(max_tokens=1000))
    meter.charge(Usage(input_tokens=900))
    rungs = [
        rung("resample", "big", 0.9, calls, estimated_tokens=5000),
        rung("cheap", "small", 0.8, calls, estimated_tokens=50),
    ]
    out = await climb(rungs, start=Attempt("a", 0.2), threshold=0.6, meter=meter)
    assert calls == ["cheap"]
    assert not out.steps[0].taken and "tokens" in out.steps[0].reason
    assert out.result == "small"


async def test_budget_running_out_mid_ladder_stops_with_the_best_so_far() -> None:
    meter = BudgetMeter(Budget(max_model_calls=1))

    async def spend() -> Attempt[str]:
        meter.charge(Usage(model_calls=2))
        raise AssertionError("unreachable")

    calls: list[str] = []
    rungs = [Rung("resample", spend, estimated_calls=0), rung("next", "x", 1.0, calls)]
    out = await climb(rungs, start=Attempt("a", 0.2), threshold=0.6, meter=meter)
    assert out.result == "a" and calls == []
    assert out.steps[0].reason.startswith("budget ran out")
    assert isinstance(BudgetExceeded("x", 1, 2), Exception)


QUESTION = "What is the combined population of France and Spain?"
SUM = (
    '1. country_facts("France")\n2. country_facts("Spain")\n'
    '3. calc("$1.population + $2.population")\nAnswer: Together {$3}.\n'
)
SUM_AREA = SUM.replace("population +", "area_km2 +")
OTHER = SUM.replace('"Spain"', '"France and Spain"')


def test_low_plan_agreement_resamples_until_sure_enough_and_logs_escalation() -> None:
    # Round 0: SUM and OTHER split the vote (0.5; the area plan is rejected). The
    # first resampled pair (drawn at once) sides with SUM (3 of 4 valid samples,
    # 0.75 >= 0.6): the other pair is not drawn.
    model = ScriptedModel([SUM, OTHER, SUM_AREA, SUM, SUM, SUM, OTHER])
    orch = Orchestrator("memory://", model=model, memory=False)
    result = orch.run(QUESTION)
    events = orch.store.events(result.run_id)
    escalated = [e.data for e in events if e.type == EventType.ESCALATED]
    assert escalated and escalated[0]["rung"] == "resample" and escalated[0]["taken"]
    assert escalated[0]["after"] > escalated[0]["before"]
    assert escalated[0]["usage"]["model_calls"] == 2
    assert escalated[0]["after"] == pytest.approx(3 / 4)
    assert len(model.calls) == 5
    assert result.answer is not None and result.answer.status.value == "answered"


def test_a_resample_that_stays_split_draws_every_extra_sample() -> None:
    model = ScriptedModel([SUM, OTHER, SUM_AREA, *[SUM_AREA] * 4], default=SUM_AREA)
    orch = Orchestrator("memory://", model=model, memory=False)
    result = orch.run(QUESTION)
    escalated = [e.data for e in orch.store.events(result.run_id) if e.type == EventType.ESCALATED]
    # Every resample is rejected (area where population is asked): still 1-1 after all 4.
    assert escalated[0]["usage"]["model_calls"] == 4
    assert escalated[0]["after"] == pytest.approx(0.5)


def test_stronger_model_rung_plans_with_the_escalate_route() -> None:
    from veritask.config import Settings
    from veritask.models import Router

    # Round 0: two valid plans that disagree (0.5); the resample draws only plans the
    # checks reject (area where population is asked), so agreement stays at 0.5.
    weak = ScriptedModel([SUM, OTHER, SUM_AREA, *[SUM_AREA] * 4], name="weak")
    strong = ScriptedModel([SUM, SUM, SUM], name="strong")
    settings = Settings(model="weak", routes={"escalate": ["strong"]})
    router = Router(settings, providers={"weak": weak, "strong": strong})
    orch = Orchestrator("memory://", settings=settings, router=router, memory=False)
    result = orch.run(QUESTION)
    rungs = [
        (e.data["rung"], e.data["taken"])
        for e in orch.store.events(result.run_id)
        if e.type == EventType.ESCALATED
    ]
    assert rungs == [("resample", True), ("stronger_model", True)]
    # Two agreeing samples end the strong model's round (adaptive sampling).
    assert len(strong.calls) == 2 and all(c.temperature is not None for c in strong.calls)
    assert result.answer is not None and result.answer.status.value == "answered"


def test_a_dead_model_fails_the_answer_instead_of_abstaining() -> None:
    from veritask.errors import ModelError

    model = ScriptedModel(default=ModelError("HTTP 401: bad key", retryable=False))
    orch = Orchestrator("memory://", model=model, memory=False)
    result = orch.run(QUESTION)
    assert result.answer is not None and result.answer.status.value == "failed"
    assert "model failed" in result.answer.text


async def test_no_result_climbs_whatever_the_threshold_and_any_result_replaces_it() -> None:
    calls: list[str] = []
    rungs = [
        rung("resample", None, 0.0, calls),
        rung("stronger_model", "unsure", 0.0, calls),  # an answer, however unsure
        rung("deep_agent", "never", 1.0, calls),
    ]
    out = await climb(rungs, start=Attempt(None, 0.0), threshold=0.0, meter=None)
    assert calls == ["resample", "stronger_model"]
    assert out.result == "unsure" and out.steps[1].improved == "unsure"
