"""Abstentions and gaps say in plain words what could not be established.

The reader of an answer never saw the plan: no task ids, no `$t1`
references, no planner diagnostics; a failed look-up is named by what it
was to find and the reason its source gave, and it is never shown as evidence.
"""

from __future__ import annotations

import re

from rich.console import Console

from veritask import Orchestrator
from veritask.assembler.wording import plan_refusal, subject
from veritask.cli_render import answer_panel
from veritask.errors import PlanProblem
from veritask.models import ScriptedModel
from veritask.runtime.result import RunResult
from veritask.types import AnswerStatus, Task

INTERNAL = re.compile(r"\bt\d\b|\$t?\d|task '|\(country_facts\)")


def answer(question: str, plan_text: str) -> RunResult:
    orch = Orchestrator("memory://", model=ScriptedModel(default=plan_text), memory=False)
    result = orch.run(question)
    assert result.answer is not None
    return result


def test_an_abstention_names_what_could_not_be_established_and_why() -> None:
    result = answer(
        "What is the combined population of Narnia and Peru?",
        '1. country_facts("Narnia")\n2. country_facts("Peru")\n'
        '3. calc("$1.population + $2.population")\nAnswer: {$3}\n',
    )
    a = result.answer
    assert a is not None and a.status is AnswerStatus.ABSTAINED
    assert a.text.startswith("I could not establish the country facts for Narnia (")
    assert "no country named 'Narnia'" in a.text and "so I will not guess" in a.text
    for line in [a.text, *a.gaps]:
        assert not INTERNAL.search(line), line


def test_a_partial_answer_keeps_the_failed_look_up_out_of_its_evidence() -> None:
    result = answer(
        "What is the population of Peru and of Narnia?",
        '1. country_facts("Peru")\n2. country_facts("Narnia")\n'
        "Answer: Peru has {$1.population} people and Narnia {$2.population}.\n",
    )
    a = result.answer
    assert a is not None and a.status is AnswerStatus.PARTIAL
    assert a.gaps == [
        "could not establish the country facts for Narnia: no country named 'Narnia'; "
        "did you mean 'Armenia'?"
    ]
    console = Console(width=100, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(answer_panel(result, 100))
    shown = console.export_text()
    evidence = [line for line in shown.splitlines() if line.lstrip().startswith("←")]
    assert evidence and all("t1" in line for line in evidence), shown
    assert not any("t2" in line for line in evidence), shown


def test_a_refused_plan_is_explained_without_the_planners_diagnostics() -> None:
    text, gaps = plan_refusal(
        [
            PlanProblem(
                "rejected",
                "task 't2': repeats task 't1' (same tool and arguments); "
                "remove it and refer to $t1 instead",
            ),
            PlanProblem("rejected", "plan: step t2 uses $t1.population more than once"),
        ]
    )
    assert text == (
        "I could not find a reliable way to answer this with the tools available, so I "
        "will not guess: no plan the tools could carry out was found for it."
    )
    assert gaps == ["no plan the tools could carry out was found for it"]


def test_a_reason_about_the_question_is_kept() -> None:
    result = answer("What is the average rainfall in Kenya?", "")
    a = result.answer
    assert a is not None and a.status is AnswerStatus.ABSTAINED
    assert "'rainfall', which none of the tools provides" in a.text
    assert a.gaps == [
        "the question asks about 'average', 'rainfall', which none of the tools provides"
    ]
    assert not any(g.startswith("plan:") for g in a.gaps)


def test_a_repeated_look_up_end_to_end_reads_plainly() -> None:
    result = answer(
        "What is the combined population of Peru and Peru?",
        '1. country_facts("Peru")\n2. country_facts("Peru")\n'
        '3. calc("$1.population + $2.population")\nAnswer: {$3}\n',
    )
    a = result.answer
    assert a is not None and a.status is AnswerStatus.ABSTAINED
    for line in [a.text, *a.gaps]:
        assert not INTERNAL.search(line), line


def test_a_task_is_named_by_its_description_or_its_plain_arguments() -> None:
    assert subject(Task(id="a", tool="country_facts", args={"country": "Peru"})) == (
        "the country facts for Peru"
    )
    assert subject(Task(id="a", tool="calc", args={"expression": "$b + 1"})) == "the calc"
    described = Task(id="a", tool="calc", args={}, description="population of Spain")
    assert subject(described) == "population of Spain"
    secret = Task(id="a", tool="fetch", args={"api_key": "abc", "city": "Lima"})
    assert subject(secret) == "the fetch for Lima"
