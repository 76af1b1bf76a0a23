"""Adaptive sampling: two agreeing valid samples end the round; disagreement draws a third."""

from __future__ import annotations

import pytest
from test_planner_loop import BROKEN, QUESTION, RATIO, SUM, _Router, raising_registry

from helpers.apiary import APIARY_CATALOG
from helpers.routing import ScriptedRouter
from veritask.models import ScriptedModel
from veritask.planner.planner import Planner, PlannerSettings, agreement

# The same plan in other words: the vote compares canonical plans, not text.
SUM_REWORDED = SUM.replace("have {$3} inhabitants together", "together have {$3} people")
# The same plan with the two countries looked up in the other order: it means the same.
SUM_SWAPPED = (
    '1. country_facts("Spain")\n2. country_facts("France")\n'
    '3. calc("$1.population + $2.population")\n'
    "Answer: Spain and France have {$3} inhabitants together.\n"
)
# A valid plan written differently enough to count as another plan (abs around a sum).
SUM_OTHER = SUM.replace('"$1.population + $2.population"', '"abs($1.population + $2.population)"')


@pytest.mark.parametrize("second", [SUM_REWORDED, SUM_SWAPPED])
async def test_two_agreeing_samples_are_exactly_two_model_calls(second: str) -> None:
    model = ScriptedModel([SUM, second], default=RATIO)
    result = await Planner(_Router(model), raising_registry()).aplan(QUESTION)
    assert len(model.calls) == 2
    assert result.votes == 2 and len(result.candidates) == 2
    assert result.confidence == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("second", "third", "votes"),
    [
        (RATIO, SUM, 2),  # the second fails the relevance check: a third sample decides
        (BROKEN, SUM, 2),  # the second does not validate
        (SUM_OTHER, SUM, 2),  # two valid plans that differ
    ],
)
async def test_disagreement_draws_a_third_sample(second: str, third: str, votes: int) -> None:
    model = ScriptedModel([SUM, second, third])
    result = await Planner(_Router(model), raising_registry()).aplan(QUESTION)
    assert len(model.calls) == 3
    assert result.votes == votes and len(result.candidates) == 3
    assert result.confidence == pytest.approx(agreement(votes, result.candidates))
    assert "+" in result.plan.tasks[2].args["expression"]


async def test_three_samples_that_split_keep_the_vote_share_as_confidence() -> None:
    model = ScriptedModel([SUM, SUM_OTHER, SUM])
    result = await Planner(_Router(model), raising_registry()).aplan(QUESTION)
    assert [t.args for t in result.plan.tasks[:2]] == [{"country": "France"}, {"country": "Spain"}]
    assert result.confidence == pytest.approx(2 / 3)


async def test_two_samples_setting_draws_two_even_when_they_disagree() -> None:
    model = ScriptedModel([SUM, SUM_OTHER], default=SUM)
    settings = PlannerSettings(samples=2)
    result = await Planner(_Router(model), raising_registry(), settings=settings).aplan(QUESTION)
    assert len(model.calls) == 2
    assert result.confidence == pytest.approx(0.5)


async def test_samples_agreeing_on_tools_but_stating_another_field_do_not_agree() -> None:
    population = 'country_facts("France")\nAnswer: France has {$1.population} people.\n'
    area = population.replace("population}", "area_km2}")
    model = ScriptedModel(["1. " + population, "1. " + area, "1. " + population])
    settings = PlannerSettings(check_relevance=False)
    planner = Planner(_Router(model), raising_registry(), settings=settings)
    result = await planner.aplan("How many people live in France?")
    assert len(model.calls) == 3  # the first two disagree: a third sample decides
    assert result.votes == 2
    assert result.plan.answer_template is not None
    assert "population" in result.plan.answer_template
    assert result.confidence == pytest.approx(2 / 3)


async def test_two_failed_samples_go_straight_to_the_repair_round() -> None:
    # An invented apiary: the first two plans read a field the question does not ask
    # for; the third call is already the repair, whose prompt names the problem.
    frames = '1. hive("Clover")\nAnswer: The Clover hive holds {$1.frames} frames.\n'
    honey = '1. hive("Clover")\nAnswer: The Clover hive gave {$1.honey_kg} kg.\n'
    model = ScriptedModel([frames, frames, honey], default=honey)
    planner = Planner(ScriptedRouter(model), APIARY_CATALOG)  # type: ignore[arg-type]
    result = await planner.aplan("How much honey did the Clover hive give?")
    assert len(model.calls) == 3
    assert [c.round for c in result.candidates] == [0, 0, 1]
    assert "frames" in model.calls[2].messages[-1]["content"]
    assert result.plan.answer_template is not None and "honey_kg" in result.plan.answer_template
