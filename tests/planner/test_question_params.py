"""Tools that read a question and answer in words (`Question` parameters), on an invented
garden guide: the planner passes the question as asked and does not ask a prose answer
for a field, a number or a sum the question names."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TypedDict

from helpers.routing import ScriptedRouter
from veritask import Question, Toolkit, tool
from veritask.models import ScriptedModel
from veritask.planner.catalog import Catalog
from veritask.planner.checks import relevance_problems
from veritask.planner.planner import Planner
from veritask.planner.relevance import Relevance
from veritask.planner.steps import parse_steps
from veritask.planner.tidy import questions_as_asked
from veritask.tools.declared import load_declarations
from veritask.tools.registry import ToolRegistry, kind_of

SUFFIX = uuid.uuid4().hex[:6]
ADVICE = {
    "How often should tomato seedlings be watered in their first week?": (
        "Water tomato seedlings every morning during their first week."
    ),
}


class Advice(TypedDict):
    answer: str
    page: int


class Plant(TypedDict):
    name: str
    height_cm: int
    spacing_cm: int


@tool(name="garden_advice", idempotent=True)
def garden_advice(question: Question) -> Advice:
    """Answer a gardening question from the garden guide, in its own words.

    Args:
        question: the gardening question, in plain words.
    """
    return Advice(answer=ADVICE.get(question, "The guide does not say."), page=12)


@tool(name="plant_card", idempotent=True)
def plant_card(name: str) -> Plant:
    """The plant card of one plant: its name, grown height and spacing in cm.

    Args:
        name: the plant's name, e.g. "Basil".
    """
    return Plant(name=name, height_cm=60, spacing_cm=30)


GARDEN = Toolkit(
    name=f"garden{SUFFIX}",
    description="A garden guide: advice on growing plants, and plant cards.",
    tools=[garden_advice, plant_card],
    vocabulary={"garden_advice": ["guide", "water", "watered", "prune", "sow"]},
)
CATALOG = Catalog.from_toolkits([GARDEN])
RELEVANCE = Relevance(CATALOG)
REGISTRY: ToolRegistry = CATALOG.registry
WATERING = "How often should tomato seedlings be watered in their first week?"


def problems(question: str, steps: str) -> list[str]:
    plan = questions_as_asked(parse_steps(steps, REGISTRY, goal=question), question, REGISTRY)
    return relevance_problems(question, plan, RELEVANCE)


def test_a_question_parameter_is_marked_on_the_spec_and_in_its_schema() -> None:
    spec = REGISTRY.get("garden_advice")
    assert spec.question_params == frozenset({"question"})
    assert spec.input_schema["properties"]["question"]["format"] == "question"
    assert REGISTRY.get("plant_card").question_params == frozenset()
    assert kind_of(Question) == "text"


def test_a_topic_cut_from_the_question_is_replaced_by_the_question() -> None:
    plan = parse_steps('1. garden_advice("tomato seedlings")\nAnswer: {$1.answer}', REGISTRY)
    asked = questions_as_asked(plan, WATERING, REGISTRY)
    assert asked.tasks[0].args["question"] == WATERING


def test_one_reader_step_answers_the_whole_question_even_when_it_narrowed_it() -> None:
    narrowed = '1. garden_advice("How often are tomato seedlings watered?")\nAnswer: {$1.answer}'
    asked = questions_as_asked(parse_steps(narrowed, REGISTRY), WATERING, REGISTRY)
    assert asked.tasks[0].args["question"] == WATERING


def test_parts_of_a_compound_question_keep_their_own_questions() -> None:
    question = "How often should tomatoes be watered, and when should basil be sown?"
    steps = (
        '1. garden_advice("How often should tomatoes be watered?")\n'
        '2. garden_advice("When should basil be sown?")\nAnswer: {$1.answer} {$2.answer}'
    )
    asked = questions_as_asked(parse_steps(steps, REGISTRY), question, REGISTRY)
    assert [t.args["question"] for t in asked.tasks] == [
        "How often should tomatoes be watered?",
        "When should basil be sown?",
    ]


def test_words_not_in_the_question_are_never_replaced() -> None:
    plan = parse_steps('1. garden_advice("rose pruning")\nAnswer: {$1.answer}', REGISTRY)
    assert questions_as_asked(plan, WATERING, REGISTRY).tasks[0].args["question"] == "rose pruning"


def test_a_prose_answer_is_not_asked_for_a_number_or_a_field() -> None:
    # "How often" asks a count; the reader states it in words ("every morning").
    assert problems(WATERING, '1. garden_advice("tomato seedlings")\nAnswer: {$1.answer}') == []
    # A plain lookup tool is still held to the field the question names.
    found = problems("How tall does Basil grow?", '1. plant_card("Basil")\nAnswer: {$1.spacing_cm}')
    assert any("spacing_cm" in p for p in found), found


def test_a_declared_json_tool_marks_question_parameters_by_format(tmp_path: Path) -> None:
    path = tmp_path / "tools.json"
    path.write_text(
        json.dumps(
            [
                {
                    "name": "helpdesk",
                    "description": "Answer a question from the help centre.",
                    "parameters": {
                        "type": "object",
                        "properties": {"question": {"type": "string", "format": "question"}},
                        "required": ["question"],
                    },
                }
            ]
        )
    )
    (spec,) = load_declarations(path)
    assert spec.question_params == frozenset({"question"})


async def test_the_planner_runs_the_reader_on_the_question_as_asked() -> None:
    text = '1. garden_advice("tomato seedlings")\nAnswer: {$1.answer}\n'
    model = ScriptedModel([text, text, text])
    result = await Planner(ScriptedRouter(model), CATALOG, relevance=RELEVANCE).aplan(WATERING)
    assert result.plan.tasks[0].args == {"question": WATERING}
    # Run the plan: the tool gets the question, so the guide finds its answer.
    assert garden_advice(question=Question(WATERING))["answer"].startswith("Water tomato")
