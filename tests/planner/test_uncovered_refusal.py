"""Questions that every plan would be refused for are refused before any model call.

A plan escapes "the question asks about 'X', which none of the tools provides"
only by looking X up as a name; the grammar offers a plan only the question's
name spans (and the tools' fixed choices). When no offered name holds X, each
sample would draw the same refusal: the planner now says so at once, while a
word the grammar does offer as a name still gets its samples. An invented
beekeeping toolkit; scripted model, whose calls are counted.
"""

from __future__ import annotations

import pytest

from helpers.apiary import APIARY_CATALOG as CATALOG
from helpers.routing import ScriptedRouter
from veritask import Question, Toolkit, tool
from veritask.errors import PlanError
from veritask.models import ScriptedModel
from veritask.planner.catalog import Catalog
from veritask.planner.checks import UNCOVERED, offered_names, uncovered_by_every_plan
from veritask.planner.planner import Planner
from veritask.planner.relevance import Relevance

PLAN = '1. hive("Clover")\nAnswer: The Clover hive gave {$1.honey_kg} kg.\n'


def planner() -> tuple[Planner, ScriptedModel]:
    model = ScriptedModel(default=PLAN)
    return Planner(ScriptedRouter(model), CATALOG), model  # type: ignore[arg-type]


async def test_a_word_no_plan_can_cover_is_refused_without_a_model_call() -> None:
    plan, model = planner()
    # "3 swarmings" counts something: it is no name the grammar offers a look-up.
    question = "How much honey did the Clover hive give in 3 swarmings?"
    with pytest.raises(PlanError) as caught:
        await plan.aplan(question)
    (problem,) = caught.value.problems
    assert problem.code == "out_of_scope"
    assert "'swarmings'" in problem.message and UNCOVERED in problem.message
    assert model.calls == []


async def test_a_word_the_grammar_offers_as_a_name_still_gets_samples() -> None:
    plan, model = planner()
    # A lower-case word may be a name ("the swarming hive"): the grammar offers it,
    # a plan could look it up, so the samples are drawn and checked as before.
    question = "How much honey did the Clover hive give per swarming?"
    asked = plan.relevance.asked(question)
    assert "swarming" in offered_names(question, CATALOG, asked)
    assert not uncovered_by_every_plan(
        question, plan.relevance, offered_names(question, CATALOG, asked)
    )
    with pytest.raises(PlanError) as caught:
        await plan.aplan(question)  # the scripted plan looks up "Clover" only
    assert caught.value.problems[0].code == "rejected"
    assert len(model.calls) == 3  # two failed samples and a repair round


async def test_a_covered_question_is_planned_as_before() -> None:
    plan, model = planner()
    result = await plan.aplan("How much honey did the Clover hive give?")
    assert [t.args for t in result.plan.tasks] == [{"name": "Clover"}]
    assert len(model.calls) == 2  # greedy and one agreeing sample


async def test_a_tool_that_reads_the_whole_question_covers_every_word() -> None:
    # A plan may pass the question itself to a `Question` parameter (the words of a
    # question a notebook tool answers in words): no word is out of its reach.
    @tool(name="beekeeping_notes", idempotent=True)
    def beekeeping_notes(question: Question) -> str:
        """Answers a beekeeping question in words from the apiary's notebook."""
        return "Swarmings happen in May."

    catalog = Catalog.from_toolkits(
        [Toolkit(name="notes", description="The apiary's notebook.", tools=[beekeeping_notes])]
    )
    question = "How much honey did the Clover hive give in 3 swarmings?"
    asked = Relevance(catalog).asked(question)
    offered = offered_names(question, catalog, asked)
    assert question in offered
    assert not uncovered_by_every_plan(question, Relevance(catalog), offered)
