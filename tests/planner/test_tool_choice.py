"""Which tool answers, which fields a step may read: an invented ferry network.

Three tools of different shapes — a port record, a route record whose name is a
fixed choice, and a crossing time that is a bare number — share field names
("opened") and words ("how long"). These tests pin how the planner tells them
apart from the question alone, with no model call.
"""

from __future__ import annotations

import re
import uuid
from typing import Literal, TypedDict

from veritask import Toolkit, tool
from veritask.planner.catalog import Catalog
from veritask.planner.checks import comparison_labels, direction_problems
from veritask.planner.grammar import build_grammar, chosen_tools
from veritask.planner.relevance import Relevance
from veritask.planner.steps import parse_steps


class Port(TypedDict):
    name: str
    route: str
    berths: int
    opened: int


class Route(TypedDict):
    name: str
    colour: str
    length_nm: float
    opened: int


@tool(name="port", idempotent=True)
def port(name: str) -> Port:
    """One ferry port: the route serving it, its berths and the year it opened.

    Args:
        name: the port's name, e.g. "Gull Point".
    """
    return Port(name=name, route="North", berths=4, opened=1950)


@tool(name="route", idempotent=True)
def route(name: Literal["North", "South"]) -> Route:
    """One ferry route: its colour on the map, length in nautical miles, year opened.

    Args:
        name: the route's name.
    """
    return Route(name=name, colour="teal", length_nm=12.5, opened=1949)


@tool(name="crossing_minutes", idempotent=True)
def crossing_minutes(origin: str, destination: str) -> int:
    """Minutes a ferry takes from one port to another.

    Args:
        origin: the port of departure.
        destination: the port of arrival.
    """
    return 25


FERRIES = Toolkit(
    name=f"ferries{uuid.uuid4().hex[:6]}",
    description="The ferry network of an invented bay: ports, routes, crossing times.",
    tools=[port, route, crossing_minutes],
    vocabulary={
        "crossing_minutes": ["how long", "minutes", "crossing", "sail"],
        "length_nm": ["long", "length", "nautical miles"],
        "route": ["route", "routes"],
        "berths": ["berths"],
        "opened": ["opened", "open", "year"],
    },
)
CATALOG = Catalog.from_toolkits([FERRIES])
RELEVANCE = Relevance(CATALOG)


def offered(question: str) -> list[str]:
    return [spec.name for spec in chosen_tools(CATALOG, RELEVANCE.asked(question))]


def test_a_bare_value_asked_alone_is_looked_up_by_its_tool_alone() -> None:
    question = "How many minutes does the crossing from Gull Point to Oyster Bay take?"
    assert RELEVANCE.asked(question).owner == "crossing_minutes"
    assert offered(question) == ["crossing_minutes"]
    with_number = "How many minutes do 3 crossings from Gull Point to Oyster Bay take?"
    assert offered(with_number) == ["crossing_minutes", "calc"]


def test_a_field_of_another_tool_in_the_question_keeps_other_tools_offered() -> None:
    question = "How many minutes is the crossing between the routes of Gull Point and Oyster Bay?"
    assert RELEVANCE.asked(question).owner is None
    assert len(offered(question)) > 1


def test_a_field_two_tools_return_goes_to_the_tool_the_names_can_call() -> None:
    ports = "When did Gull Point open?"
    assert RELEVANCE.asked(ports).slots == frozenset({"port.opened"})
    assert offered(ports) == ["port"]
    routes = "When did the North route open?"
    assert RELEVANCE.asked(routes).slots == frozenset({"route.opened"})
    assert offered(routes) == ["route"]


def test_a_scattered_how_does_not_make_a_phrase() -> None:
    # "how … longer" is not "how long": the route's length is asked, by the route's name.
    question = "How much longer is the North route than the South route, in nautical miles?"
    asked = RELEVANCE.asked(question)
    assert asked.slots == frozenset({"route.length_nm"})
    assert offered(question) == ["route", "calc"]


def _text_argument_fields(grammar: str, tool_name: str) -> set[str]:
    """The fields a step of `tool_name` may read as its argument, from the grammar:
    the field rules its call alternatives name, directly or through an argument rule."""
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines() if " ::= " in line)
    calls = [
        alt
        for body in rules.values()
        for alt in body.split(" | ")
        if alt.startswith(f'"{tool_name}("')
    ]
    names = {w for alt in calls for w in alt.split() if w.startswith(("sarg", "tfield", "cf"))}
    names |= {w for n in names for w in rules.get(n, "").split() if w in rules}
    fields = {n for n in names if n == "tfield" or n.startswith("cf")}
    return {f.strip('"') for n in fields for f in rules[n].split(" | ")}


def test_a_field_named_after_another_tool_never_feeds_a_look_up() -> None:
    # A port's `route` names the route tool: `port("$1.route")` looks up nonsense, and
    # `port("$1.name")` the same port again; neither may be written.
    question = "How many berths do Gull Point and Oyster Bay have together?"
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    assert 'port(\\"Gull Point\\")' in grammar  # looked up by the question's names
    fields = _text_argument_fields(grammar, "port")
    assert "route" not in fields and "name" not in fields


def _plan(steps: str):  # type: ignore[no-untyped-def]
    return parse_steps(steps, CATALOG.registry)


def test_a_difference_with_no_side_to_subtract_must_be_absolute() -> None:
    question = "How many years apart did Gull Point and Oyster Bay open?"
    signed = _plan(
        '1. port("Gull Point")\n2. port("Oyster Bay")\n3. calc("$2.opened - $1.opened")\n'
        "Answer: They opened {$3} years apart.\n"
    )
    assert any("abs(" in p for p in direction_problems(question, signed))
    absolute = _plan(
        '1. port("Gull Point")\n2. port("Oyster Bay")\n3. calc("abs($2.opened - $1.opened)")\n'
        "Answer: They opened {$3} years apart.\n"
    )
    assert direction_problems(question, absolute) == []
    directed = "How many years later than Gull Point did Oyster Bay open?"
    assert (
        direction_problems(
            directed,
            _plan(
                '1. port("Oyster Bay")\n2. port("Gull Point")\n3. calc("$1.opened - $2.opened")\n'
                "Answer: {$3} years.\n"
            ),
        )
        == []
    )


def test_the_grammar_only_writes_an_unsigned_difference_as_abs() -> None:
    question = "How many years apart did Gull Point and Oyster Bay open?"
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    final = next(line for line in grammar.splitlines() if line.startswith("exprall3 ::="))
    assert final.split(" ::= ")[1].startswith('"abs(') and final.endswith('")"')
    directed = "How many years later than Gull Point did Oyster Bay open?"
    grammar = build_grammar(directed, CATALOG, RELEVANCE.asked(directed))
    final = next(line for line in grammar.splitlines() if line.startswith("exprall3 ::="))
    assert " | ((" in final  # a signed difference stays possible when "than" says the side


def test_values_of_bare_look_ups_are_read_without_a_field() -> None:
    question = (
        "How many minutes longer is the crossing from Gull Point to Oyster Bay than to Tern Rock?"
    )
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    uses = [line for line in grammar.splitlines() if "nfield" in line or "field)" in line]
    assert uses == ['nfield ::= "value"']  # defined, never offered after a step
    final = next(line for line in grammar.splitlines() if line.startswith("exprall3 ::="))
    assert '("$1" op "$2")' in final


def test_look_ups_of_two_names_must_each_bring_a_new_name() -> None:
    question = (
        "How many minutes longer is the crossing from Gull Point to Oyster Bay "
        "than from Gull Point to Tern Rock?"
    )
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines() if " ::= " in line)
    first = 'crossing_minutes(\\"Gull Point\\", \\"Oyster Bay\\")'
    alt = next(a for a in rules["look1s"].split(" | ") if first in a)
    cont = rules[alt.split()[-1]]  # the state after that call: 'cont… ::= "2. " (look… | …)'
    after_first = rules[re.search(r"look\w+", cont).group()]  # type: ignore[union-attr]
    assert first not in after_first  # the same journey twice is not offered
    assert 'crossing_minutes(\\"Gull Point\\", \\"Tern Rock\\")' in after_first


def test_a_difference_between_two_journeys_is_absolute() -> None:
    question = (
        "How many minutes longer is the crossing from Gull Point to Oyster Bay "
        "than from Gull Point to Tern Rock?"
    )
    signed = _plan(
        '1. crossing_minutes("Gull Point", "Oyster Bay")\n'
        '2. crossing_minutes("Gull Point", "Tern Rock")\n3. calc("$2 - $1")\nAnswer: {$3}\n'
    )
    assert any("abs(" in p for p in direction_problems(question, signed))
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    final = next(line for line in grammar.splitlines() if line.startswith("exprall3 ::="))
    assert final.split(" ::= ")[1].startswith('"abs(')


def test_bare_values_are_compared_under_the_names_their_steps_looked_up() -> None:
    question = "Which is farther from Gull Point by sail, Oyster Bay or Tern Rock?"
    assert offered(question) == ["crossing_minutes", "larger"]
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    assert 'larger(" ("\\"" lab "\\", \\"$1\\", \\"" lab "\\", \\"$2\\""' in grammar
    steps = (
        '1. crossing_minutes("Gull Point", "Oyster Bay")\n'
        '2. crossing_minutes("Gull Point", "Tern Rock")\n'
    )
    right = _plan(steps + '3. larger("Oyster Bay", "$1", "Tern Rock", "$2")\nAnswer: {$3}\n')
    assert comparison_labels(right) == []
    swapped = _plan(steps + '3. larger("Tern Rock", "$1", "Oyster Bay", "$2")\nAnswer: {$3}\n')
    assert len(comparison_labels(swapped)) == 2
    shared = _plan(steps + '3. larger("Gull Point", "$1", "Tern Rock", "$2")\nAnswer: {$3}\n')
    assert any("'Gull Point'" in p for p in comparison_labels(shared))


def test_a_times_question_offers_division_only() -> None:
    asked = RELEVANCE.asked("How many times longer is the North route than the South route?")
    assert asked.times and asked.operators >= {"/"} and "-" not in asked.operators


def test_bare_values_are_labelled_by_the_names_offered_as_the_choice() -> None:
    question = "Which is farther from Gull Point by sail, Oyster Bay or Tern Rock?"
    grammar = build_grammar(question, CATALOG, RELEVANCE.asked(question))
    assert 'lab ::= "Oyster Bay" | "Tern Rock"' in grammar


def test_samples_that_mean_the_same_plan_vote_together() -> None:
    from veritask.planner.steps import canonical

    def key(steps: str) -> str:
        return canonical(_plan(steps + "Answer: {$3}\n"))

    gull_first = '1. port("Gull Point")\n2. port("Oyster Bay")\n'
    oyster_first = '1. port("Oyster Bay")\n2. port("Gull Point")\n'
    apart = 'calc("abs($2.opened - $1.opened)")\n'
    assert key(gull_first + "3. " + apart) == key(oyster_first + "3. " + apart)
    total = 'calc("$1.berths + $2.berths")\n'
    assert key(gull_first + "3. " + total) == key(oyster_first + "3. " + total)
    signed = 'calc("$2.opened - $1.opened")\n'
    assert key(gull_first + "3. " + signed) != key(oyster_first + "3. " + signed)


def test_a_word_counted_by_a_number_is_no_name_beside_real_names() -> None:
    from veritask.planner.question_text import question_spans

    spans = question_spans("How many berths does Gull Point offer over 30 days in a 7-day week?")
    assert "Gull Point" in spans
    assert not {"days", "week", "7-day week"} & set(spans)
    assert "sprockets" in question_spans("what do 5 sprockets cost?")
