"""Hand-written example plans for the built-in tools.

They teach the planner the step language and the usual shapes of a plan
(look up, then compute, then answer with slots). None is taken from a
benchmark suite: a suite measures, it must not teach. Each example is
validated against the built-in tools by the test suite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from veritask.planner.steps import parse_steps
from veritask.tools.registry import ToolRegistry
from veritask.types import Plan


@dataclass(frozen=True)
class Example:
    question: str
    steps: str

    def plan(self, registry: ToolRegistry) -> Plan:
        return parse_steps(self.steps, registry, goal=self.question)


EXAMPLES: tuple[Example, ...] = (
    Example(
        "What is the total population of Norway and Denmark together?",
        '1. country_facts("Norway")\n2. country_facts("Denmark")\n'
        '3. calc("$1.population + $2.population")\n'
        "Answer: Norway and Denmark together have {$3} inhabitants.",
    ),
    Example(
        "What is the distance in km between the capitals of Chile and Peru?",
        '1. distance_km("Chile", "Peru")\n'
        "Answer: The capitals of Chile and Peru are {$1} km apart.",
    ),
    Example(
        "How many people live per square kilometre in Portugal?",
        '1. country_facts("Portugal")\n'
        "Answer: Portugal has {$1.density_per_km2} people per square kilometre.",
    ),
    Example(
        "Which continent is the country with the capital Nairobi in?",
        '1. country_by_capital("Nairobi")\n'
        "Answer: The country whose capital is Nairobi is in {$1.continent}.",
    ),
    Example(
        "What money is used in the country whose capital city is Lima?",
        '1. country_by_capital("Lima")\n'
        "Answer: The country whose capital is Lima uses the {$1.currency_name}.",
    ),
    Example(
        "Is Kenya or Ghana home to more people?",
        '1. country_facts("Kenya")\n2. country_facts("Ghana")\n'
        '3. larger("$1.name", "$1.population", "$2.name", "$2.population")\n'
        "Answer: {$3} has more inhabitants.",
    ),
    Example(
        "How many neighbouring countries does Austria have?",
        '1. country_facts("Austria")\nAnswer: Austria borders {$1.neighbour_count} countries.',
    ),
    Example(
        "What is the ratio of the population of Canada to the population of Australia?",
        '1. country_facts("Canada")\n2. country_facts("Australia")\n'
        '3. calc("$1.population / $2.population")\n'
        "Answer: Canada has {$3} times the population of Australia.",
    ),
    Example(
        "What is the difference in area, in square kilometres, between Brazil and Argentina?",
        '1. country_facts("Brazil")\n2. country_facts("Argentina")\n'
        '3. calc("abs($1.area_km2 - $2.area_km2)")\n'
        "Answer: The areas of Brazil and Argentina differ by {$3} square kilometres.",
    ),
    Example(
        "How many people live in the city of Osaka?",
        '1. city_facts("Osaka")\nAnswer: Osaka has {$1.population} inhabitants.',
    ),
    Example(
        "What is the capital of Vietnam?",
        '1. country_facts("Vietnam")\nAnswer: The capital of Vietnam is {$1.capital}.',
    ),
    Example(
        "How far is Lisbon from Madrid in kilometres?",
        '1. distance_km("Lisbon", "Madrid")\nAnswer: Lisbon and Madrid are {$1} km apart.',
    ),
    Example(
        "Which country covers more land, Egypt or Libya?",
        '1. country_facts("Egypt")\n2. country_facts("Libya")\n'
        '3. larger("$1.name", "$1.area_km2", "$2.name", "$2.area_km2")\n'
        "Answer: {$3} has the larger area.",
    ),
)

_WORD = re.compile(r"[a-z]+")
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "in",
        "is",
        "what",
        "which",
        "how",
        "and",
        "or",
        "to",
        "by",
        "for",
        "with",
        "does",
        "do",
    ]
)


_CONCEPTS: dict[str, tuple[str, ...]] = {
    "SUM": ("combined", "total", "together", "sum", "altogether", "add"),
    "RATIO": ("ratio", "times", "divided", "proportion"),
    "DIFF": ("difference", "differ", "differs", "minus", "exceed", "exceeds"),
    "DISTANCE": ("far", "distance", "apart", "kilometres", "kilometers", "km", "miles"),
    "POPULATION": ("population", "inhabitants", "people", "populous", "residents", "live"),
    "AREA": ("area", "square", "land", "size", "km2", "big", "covers"),
    "DENSITY": ("density", "densely", "crowded"),
    "CURRENCY": ("currency", "money", "currencies"),
    "BORDER": ("border", "borders", "neighbour", "neighbours", "neighbouring", "bordering"),
    "COMPARE": ("more", "larger", "bigger", "greater", "higher", "fewer", "smaller"),
}
_CONCEPT_OF = {word: concept for concept, words in _CONCEPTS.items() for word in words}


def _terms(text: str) -> set[str]:
    """Content words, with synonyms folded into one concept ("combined" ~ "total")."""
    words = (w for w in _WORD.findall(text.lower()) if w not in _STOP)
    return {_CONCEPT_OF.get(w, w) for w in words}


@cache
def _example_terms() -> tuple[frozenset[str], ...]:
    return tuple(frozenset(_terms(e.question)) for e in EXAMPLES)


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of two questions' content words after folding synonyms."""
    ta, tb = _terms(a), _terms(b)
    return len(ta & tb) / (len(ta | tb) or 1)


def closest_examples(question: str, k: int = 3) -> list[Example]:
    """The k shipped examples sharing the most words with `question` (Jaccard)."""
    q = _terms(question)
    scored = []
    for i, terms in enumerate(_example_terms()):
        union = len(q | terms) or 1
        scored.append((len(q & terms) / union, -i, EXAMPLES[i]))
    scored.sort(reverse=True)
    return [e for _, _, e in scored[:k]]
