"""Planning with a toolkit that is not geography: an invented library catalogue.

The planner must know nothing of the domain: relevance, grammar, examples and
checks come from the toolkit. The model is scripted, so these tests pin the
planner's own behaviour: what it offers the model, what it refuses before
any model call, and which valid-looking plans it rejects.
"""

from __future__ import annotations

import uuid
from typing import Literal, TypedDict

import pytest

from helpers.routing import ScriptedRouter
from veritask import Orchestrator, ToolError, Toolkit, tool
from veritask.errors import PlanError
from veritask.models import ScriptedModel
from veritask.planner.catalog import Catalog
from veritask.planner.checks import relevance_problems
from veritask.planner.grammar import build_grammar
from veritask.planner.planner import Planner
from veritask.planner.question_text import question_spans
from veritask.planner.relevance import Relevance
from veritask.planner.steps import parse_steps

SUFFIX = uuid.uuid4().hex[:6]
BOOKS = {
    "dune": {"title": "Dune", "author": "Frank Herbert", "pages": 412, "copies": 3},
    "emma": {"title": "Emma", "author": "Jane Austen", "pages": 474, "copies": 1},
    "ulysses": {"title": "Ulysses", "author": "James Joyce", "pages": 730, "copies": 2},
}


class Book(TypedDict):
    title: str
    author: str
    pages: int
    copies: int


@tool(name="book", idempotent=True)
def book(title: str) -> Book:
    """One book of our library: its author, page count and copies on the shelf.

    Args:
        title: the book's title, e.g. "Dune".
    """
    found = BOOKS.get(title.strip().lower())
    if found is None:
        raise ToolError(f"no book titled {title!r}", kind="NotFound")
    return Book(**found)  # type: ignore[typeddict-item]


@tool(name="shelf", idempotent=True)
def shelf(section: Literal["fiction", "history"]) -> int:
    """Number of books on the shelves of a section.

    Args:
        section: the section of the library.
    """
    return {"fiction": 1200, "history": 800}[section]


LIBRARY = Toolkit(
    name=f"library{SUFFIX}",
    description="Books of our library: authors, pages, copies.",
    tools=[book, shelf],
    examples=[
        (
            "How many copies of Persuasion do we have?",
            {
                "tasks": [{"id": "a", "tool": "book", "args": {"title": "Persuasion"}}],
                "answer_template": "We have {$a.copies} copies of Persuasion.",
            },
        )
    ],
    vocabulary={"author": ["wrote", "writer"], "pages": ["long", "length"]},
    notes="A book is named by its title.",
)
CATALOG = Catalog.from_toolkits([LIBRARY])
RELEVANCE = Relevance(CATALOG)


def problems(question: str, steps: str) -> list[str]:
    return relevance_problems(question, parse_steps(steps, CATALOG.registry), RELEVANCE)


def test_fields_are_found_by_vocabulary_stems_and_meaning() -> None:
    assert "book.author" in RELEVANCE.asked("Who wrote Dune?").targets
    assert "book.pages" in RELEVANCE.asked("How long is Emma?").targets
    assert "book.copies" in RELEVANCE.asked("How many copies of Ulysses are there?").targets


def test_the_grammar_offers_the_domain_not_geography() -> None:
    question = "Who wrote Dune?"
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    assert '"book("' in grammar and "country_facts" not in grammar and "city_facts" not in grammar
    field = next(line for line in grammar.splitlines() if line.startswith("field ::="))
    assert '"author"' in field and '"pages"' not in field
    ent = next(line for line in grammar.splitlines() if line.startswith("ent ::="))
    assert '"Dune"' in ent


def test_enum_parameters_offer_their_values_and_lower_case_names_are_spans() -> None:
    question = "How many books are in the history section?"
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    assert '"history"' in grammar
    assert "ulysses" in question_spans("how long is ulysses", frozenset({"long"}))


async def test_planning_with_the_scripted_model_never_calls_a_tool() -> None:
    text = '1. book("Dune")\nAnswer: Dune was written by {$1.author}.\n'
    model = ScriptedModel([text, text, text])
    planner = Planner(ScriptedRouter(model), CATALOG, relevance=RELEVANCE)
    result = await planner.aplan("Who wrote Dune?")
    # The first two samples agree and validate: adaptive sampling draws no third.
    assert result.plan.tasks[0].tool == "book" and result.votes == 2
    assert len(model.calls) == 2
    prompt = model.calls[0].messages
    assert "Persuasion" in prompt[1]["content"]  # the toolkit's own example is shown
    assert "A book is named by its title." in prompt[0]["content"]


async def test_no_examples_means_examples_written_from_the_tool_schemas() -> None:
    bare = Toolkit(name=f"bare{SUFFIX}", description="Books.", tools=[book])
    text = '1. book("Emma")\nAnswer: Emma has {$1.pages} pages.\n'
    model = ScriptedModel(default=text)
    planner = Planner(ScriptedRouter(model), Catalog.from_toolkits([bare]))
    await planner.aplan("How many pages does Emma have?")
    shown = [m["content"] for m in model.calls[0].messages[1:-1]]
    assert any('book("X")' in m for m in shown), shown


async def test_out_of_scope_is_refused_by_meaning_before_any_model_call() -> None:
    model = ScriptedModel([])
    planner = Planner(ScriptedRouter(model), CATALOG, relevance=RELEVANCE)
    with pytest.raises(PlanError) as err:
        await planner.aplan("What is the weather in Dune?")
    assert err.value.problems[0].code == "out_of_scope"
    assert model.calls == []


@pytest.mark.parametrize(
    ("question", "steps", "expected"),
    [
        ("Who wrote Dune?", '1. book("Dune")\nAnswer: {$1.pages}', "field 'pages'"),
        (
            "Which is longer, Dune or Emma?",
            '1. book("Dune")\n2. book("Emma")\nAnswer: {$1.pages} and {$2.pages}',
            "larger(...) or smaller(...)",
        ),
        (
            "How many times longer is Ulysses than Emma?",
            '1. book("Ulysses")\n2. book("Emma")\n3. calc("$1.pages - $2.pages")\nAnswer: {$3}',
            "how many times",
        ),
        ("How many copies of Dune are there?", '1. book("Dune")\nAnswer: {$1.author}', "copies"),
        ("Who wrote Dune?", '1. book("Frankenstein")\nAnswer: {$1.author}', "not written"),
        (
            "How many pages do 3 copies of Emma have?",
            '1. book("Emma")\n2. calc("7 * $1.pages")\nAnswer: {$2}',
            "constant 7",
        ),
        ("Who wrote Dune and what does it cost?", '1. book("Dune")\nAnswer: {$1.author}', "cost"),
    ],
)
def test_valid_plans_that_answer_something_else_are_rejected(
    question: str, steps: str, expected: str
) -> None:
    found = problems(question, steps)
    assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    ("question", "steps"),
    [
        ("Who wrote Dune?", '1. book("Dune")\nAnswer: {$1.author}'),
        (
            "Which is longer, Dune or Emma?",
            '1. book("Dune")\n2. book("Emma")\n'
            '3. larger("$1.title", "$1.pages", "$2.title", "$2.pages")\nAnswer: {$3}',
        ),
        (
            "How many pages do 3 copies of Emma have?",
            '1. book("Emma")\n2. calc("3 * $1.pages")\nAnswer: {$2}',
        ),
        ("How many copies of dune are there?", '1. book("Dune")\nAnswer: {$1.copies}'),
    ],
)
def test_plans_that_answer_the_question_pass(question: str, steps: str) -> None:
    assert problems(question, steps) == []


def test_a_question_about_the_library_runs_end_to_end_with_its_evidence() -> None:
    model = ScriptedModel(default='1. book("Dune")\nAnswer: Dune was written by {$1.author}.\n')
    orch = Orchestrator("memory://", model=model, toolkits=[LIBRARY], memory=False)
    result = orch.run("Who wrote Dune?")
    assert result.answer is not None
    assert result.answer.status.value == "answered"
    assert result.answer.text == "Dune was written by Frank Herbert."
    assert result.answer.value == "Frank Herbert"


def test_a_number_the_question_gives_must_be_used() -> None:
    found = problems(
        "How many pages do 3 copies of Emma have?", '1. book("Emma")\nAnswer: {$1.pages}'
    )
    assert any("gives the number 3" in p for p in found), found
    question = "How many pages do 3 copies of Emma have?"
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    assert "fin2 ::= " in grammar and '"calc("' in grammar.split("fin2 ::= ")[1].split("\n")[0]


def test_a_value_computed_with_itself_is_rejected() -> None:
    found = problems(
        "How many times longer is Ulysses than Emma?",
        '1. book("Ulysses")\n2. book("Emma")\n3. calc("$1.pages / $1.pages")\nAnswer: {$3}',
    )
    assert any("with itself" in p for p in found), found


@pytest.mark.parametrize(
    ("question", "expression", "reversed_"),
    [
        ("How many times longer is Ulysses than Emma?", "$1.pages / $2.pages", False),
        ("How many times longer is Ulysses than Emma?", "$2.pages / $1.pages", True),
        ("How many times as long as Emma is Ulysses?", "$2.pages / $1.pages", False),
        ("How many times as long as Emma is Ulysses?", "$1.pages / $2.pages", True),
        ("How many more pages does Ulysses have than Emma?", "$2.pages - $1.pages", True),
    ],
)
def test_a_ratio_divides_by_what_the_question_compares_against(
    question: str, expression: str, reversed_: bool
) -> None:
    first, second = ("Emma", "Ulysses") if "as long as Emma" in question else ("Ulysses", "Emma")
    steps = f'1. book("{first}")\n2. book("{second}")\n3. calc("{expression}")\nAnswer: {{$3}}'
    found = problems(question, steps)
    assert any("wrong side" in p for p in found) == reversed_, found


def test_a_comparison_compares_two_different_steps_and_slots_name_a_field() -> None:
    question = "Which is longer, Dune or Emma?"
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    fin3 = next(line for line in grammar.splitlines() if line.startswith("fin3 ::="))
    assert '"1" "." lfield' in fin3 and '"2" "." lfield' in fin3
    lfield = next(line for line in grammar.splitlines() if line.startswith("lfield ::="))
    assert lfield == 'lfield ::= "title"'  # book(title): the field that names a book
    assert '"$" "1" "." nfield "\\", \\"$" "1"' not in fin3  # never one step on both sides
    lookup = "How many copies of Dune are there?"
    books = Catalog.from_toolkits([Toolkit(name=f"books{SUFFIX}", description="", tools=[book])])
    free = build_grammar(lookup, books, Relevance(books).asked(lookup))
    answer1 = next(line for line in free.splitlines() if line.startswith("answer1 ::="))
    assert '"." field' in answer1 and '("." field)?' not in answer1


def test_a_total_of_n_units_is_a_multiplication() -> None:
    steps = '1. book("Emma")\n2. calc("6 * $1.pages")\nAnswer: {$2}'
    assert problems("What is the total number of pages of 6 copies of Emma?", steps) == []


def test_a_number_counting_a_looked_up_thing_multiplies_it() -> None:
    question = "What is the total number of pages of 6 Dunes?"
    added = problems(question, '1. book("Dune")\n2. calc("$1.pages + 6")\nAnswer: {$2}')
    assert any("multiply its value by 6" in p for p in added), added
    assert problems(question, '1. book("Dune")\n2. calc("6 * $1.pages")\nAnswer: {$2}') == []
    # A number that counts nothing looked up ("5 years after") may be added.
    later = "How many pages will Dune have after 5 more editions add pages?"
    assert not any(
        "multiply" in p
        for p in problems(later, '1. book("Dune")\n2. calc("$1.pages + 5")\nAnswer: {$2}')
    )


def test_light_verbs_are_not_concepts_but_content_words_are() -> None:
    steps = '1. book("Dune")\nAnswer: Dune has {$1.copies} copies.'
    assert problems("How many copies of Dune do we see on the shelf?", steps) == []
    found = problems("How many copies of Dune were stolen?", steps)
    assert any("'stolen'" in p for p in found), found


@tool(name="loan_days", idempotent=True)
def loan_days(title: str) -> int:
    """Days a book may be borrowed for.

    Args:
        title: the book's title.
    """
    return 21


def test_a_target_named_by_several_words_outweighs_one_phrase() -> None:
    # "long" and "length" both name pages; loan_days' only phrase "how long" names one
    # thing, so it does not take the answer slot (nor become the only tool offered).
    kit = Toolkit(
        name=f"loans{SUFFIX}",
        description="Books and loans.",
        tools=[book, loan_days],
        vocabulary={"pages": ["long", "length"], "loan_days": ["how long", "borrow"]},
    )
    relevance = Relevance(Catalog.from_toolkits([kit]))
    assert relevance.asked("How long is Dune in length?").slots == {"book.pages"}
    assert relevance.asked("How long may I borrow Dune?").slots == {"loan_days"}


def test_a_look_up_before_a_computation_is_never_written_twice() -> None:
    # The grammar remembers the names used: after book("Dune") only Emma is offered.
    question = "How many pages do Dune and Emma have together?"
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines() if " ::= " in line)
    first = rules["look1s"]
    assert '"book(\\"Dune\\")"' in first and '"book(\\"Emma\\")"' in first
    after_dune = next(
        rules[r.split()[-1].replace("cont1", "look2")] for r in first.split(" | ") if "Dune" in r
    )
    assert "Dune" not in after_dune and "Emma" in after_dune


def test_a_ratio_divides_by_what_follows_than_by_grammar() -> None:
    question = "How many times longer is Ulysses than Emma?"
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines() if " ::= " in line)
    # Whichever order the two look-ups come in, the final calc reads Emma's step last.
    emma_first = next(
        r.split()[-1] for r in rules["look1s"].split(" | ") if "Emma" in r
    )  # cont1s<emma>
    assert "fin" not in rules[emma_first]  # no calc before the second value
    second = rules[emma_first.replace("cont1", "look2")]
    cont = next(r.split()[-1] for r in second.split(" | ") if "Ulysses" in r)
    fin = rules[cont].split("(")[1].split()[0]
    assert rules[fin].index('"$2"') < rules[fin].index('"$1"')  # $2 (Ulysses) / $1 (Emma)


def test_a_repeated_look_up_in_a_calculation_is_named() -> None:
    steps = (
        '1. book("Ulysses")\n2. book("Emma")\n'
        '3. calc("$1.pages / $2.pages / $1.pages")\nAnswer: {$3}'
    )
    found = problems("How many times longer is Ulysses than Emma?", steps)
    assert any("more than once" in p for p in found), found


def test_no_more_look_ups_than_the_question_names_things() -> None:
    question = "How many times longer is Ulysses than Emma?"
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    conts = [line.split(" ::=")[0] for line in grammar.splitlines() if line.startswith("cont")]
    assert any(c.startswith("cont2") for c in conts)
    assert not any(c.startswith("cont3") for c in conts)  # fin by step 3 at the latest


def test_a_plain_look_up_has_room_for_one_chained_step_not_more() -> None:
    question = "How many pages does Dune have?"
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    calls = {line.split(" ::=")[0] for line in grammar.splitlines() if line.startswith("call")}
    assert calls == {"call1", "call2"}  # one name: its look-up and one step reading it


def test_a_field_only_one_tool_has_decides_the_tool() -> None:
    from veritask.planner.grammar import chosen_tools

    asked = RELEVANCE.asked("Who wrote Dune?")
    assert asked.slots == {"book.author"}
    assert next(t.name for t in chosen_tools(CATALOG, asked)) == "book"
    assert "shelf" not in [t.name for t in chosen_tools(CATALOG, asked)]  # only the owner
