"""The answer line's words, as llama.cpp's grammar engine reads the planner's grammar.

A small model that loses its way in the answer line drifts into runs of
spaces ("opened in            {$1}") or repeats a phrase until the token
limit: on the railway suite such lines ran to 350 characters and 160 tokens,
a third of a question's time. The grammar keeps one space between words and
at most `ANSWER_WORDS` words between two slots, and still takes every
sentence the toolkits' examples write. Checked token by token against the
real grammar engine (integration: loads the embedded model for its vocabulary).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.apiary import APIARY_CATALOG
from veritask.models import get_provider
from veritask.models._llama_decode import _GrammarProbe
from veritask.models.local import LocalProvider, _Engine, _grammar_from_gbnf
from veritask.planner.answer_text import ANSWER_WORDS, answer_text_rules
from veritask.planner.grammar import build_grammar
from veritask.planner.relevance import Relevance

pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.integration

QUESTION = "How much honey did the Clover hive give?"
STEP = '1. hive("Clover")\n'


@pytest.fixture(scope="module")
def engine() -> Iterator[_Engine]:
    provider = get_provider("local:smollm2-135m")
    assert isinstance(provider, LocalProvider)
    yield provider.engine()


@pytest.fixture(scope="module")
def grammar() -> str:
    return build_grammar(QUESTION, APIARY_CATALOG, Relevance(APIARY_CATALOG).asked(QUESTION))


def admits(engine: _Engine, grammar: str, text: str) -> bool:
    """Whether the grammar lets a model write `text` (a whole plan or its start)."""
    probe = _GrammarProbe(engine, _grammar_from_gbnf(grammar))
    try:
        for token in engine.llama.tokenize(text.encode(), add_bos=False, special=False):
            if not probe.allows(token, 0.0):
                return False
            probe.accept(token)
        return True
    finally:
        probe.close()


@pytest.mark.parametrize(
    "answer",
    [
        "The Clover hive gave {$1.honey_kg} kg.",
        " The Clover hive gave {$1.honey_kg} kilograms of honey this season.",
        "{$1.honey_kg}.",
        "It's {$1.honey_kg} (in kg, this year's) honey.",
    ],
)
def test_sentences_like_the_examples_are_written(
    engine: _Engine, grammar: str, answer: str
) -> None:
    assert admits(engine, grammar, f"{STEP}Answer: {answer}\n")


def test_a_run_of_spaces_is_not(engine: _Engine, grammar: str) -> None:
    assert admits(engine, grammar, f"{STEP}Answer: The hive gave ")
    assert not admits(engine, grammar, f"{STEP}Answer: The hive gave  ")
    assert not admits(engine, grammar, f"{STEP}Answer: The hive gave {{$1.honey_kg}}   kg")


def test_a_dozen_words_between_slots_is_the_most(engine: _Engine, grammar: str) -> None:
    words = " ".join(["answer"] * ANSWER_WORDS)
    assert admits(engine, grammar, f"{STEP}Answer: {words} {{$1.honey_kg}}.\n")
    assert not admits(engine, grammar, f"{STEP}Answer: {words} answer")
    assert not admits(engine, grammar, f"{STEP}Answer: {{$1.honey_kg}} {words} answer")


def test_a_number_of_the_question_may_carry_a_suffix(engine: _Engine) -> None:
    # The answer rules alone, around one slot, with the question's number "3".
    grammar = "\n".join(
        ['root ::= "Answer: " text "{$1}" text "."? "\\n"', 'num ::= "3"', *answer_text_rules(True)]
    )
    assert admits(engine, grammar, "Answer: In 3 weeks it gave {$1} kg.\n")
    assert admits(engine, grammar, "Answer: In its 3rd week, {$1} kg.\n")
    assert not admits(engine, grammar, "Answer: In 4 weeks")  # not the question's number
