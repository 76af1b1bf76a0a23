"""The embedded model keeps the system message's evaluated state and restores it.

Assertions count tokens the engine evaluated (exact, machine-independent) and
compare greedy texts; none is about time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from veritask.models import assistant, get_provider, system, user
from veritask.models._llama_prefix import PREFIX_STATES
from veritask.models.base import Message
from veritask.models.local import LocalProvider, _Engine

CATALOGUE = (
    "You write plans. A plan is a numbered list of tool calls, then an Answer line. "
    "Tools: country_facts(country) returns capital, population, area_km2 and continent; "
    "city_facts(city) returns country, population, latitude and longitude; "
    "distance_km(a, b) returns the great-circle distance between two places; "
    "calc(expression) evaluates arithmetic over earlier results such as $1.population. "
    "Use only these tools, refer to earlier steps as $N, and never invent a number."
)
Q1 = "What is the population of Peru?"
Q2 = "How far apart are Lima and Quito?"
OTHER = [system("You are a helpful assistant."), user("Write a haiku about rain.")]


@pytest.fixture(scope="module")
def local(gguf_path: Path) -> LocalProvider:
    provider = get_provider("local:smollm2-135m")
    assert isinstance(provider, LocalProvider)
    return provider


@pytest.fixture
def engine(local: LocalProvider) -> Iterator[_Engine]:
    eng = local.engine()
    eng.prefix_states.clear()
    eng.llama.reset()
    yield eng
    eng.keep_prefix = True
    eng.prefix_states.clear()


def tokens_of(engine: _Engine, messages: list[Message]) -> list[int]:
    return engine.prompt_tokens([{"role": m["role"], "content": m["content"]} for m in messages])


async def evaluated_by(local: LocalProvider, engine: _Engine, messages: list[Message]) -> int:
    before = engine.evaluated
    await local.acomplete(messages, max_tokens=1)
    return engine.evaluated - before


@pytest.mark.integration
async def test_the_system_prefix_is_restored_after_another_prompt(
    local: LocalProvider, engine: _Engine
) -> None:
    q2 = [system(CATALOGUE), user(Q2)]
    full = tokens_of(engine, q2)
    prefix = engine.fixed_prefix([{"role": m["role"], "content": m["content"]} for m in q2], full)
    assert prefix >= 64 and prefix < len(full) - 2

    engine.keep_prefix = False
    await local.acomplete([system(CATALOGUE), user(Q1)], max_tokens=1)
    await local.acomplete(OTHER, max_tokens=1)
    without = await evaluated_by(local, engine, q2)

    engine.llama.reset()
    engine.keep_prefix = True
    await local.acomplete([system(CATALOGUE), user(Q1)], max_tokens=1)  # saves the state
    assert len(engine.prefix_states) == 1
    await local.acomplete(OTHER, max_tokens=1)
    with_state = await evaluated_by(local, engine, q2)

    assert with_state == len(full) - prefix  # only the question's own turn
    assert without > prefix  # the catalogue was read again


@pytest.mark.integration
async def test_a_restored_prefix_answers_exactly_like_a_cold_prompt(
    local: LocalProvider, engine: _Engine
) -> None:
    q2 = [system(CATALOGUE), user(Q2)]
    engine.keep_prefix = False
    engine.llama.reset()
    cold = await local.acomplete(q2, max_tokens=16)

    engine.keep_prefix = True
    engine.llama.reset()
    await local.acomplete([system(CATALOGUE), user(Q1)], max_tokens=4)
    await local.acomplete(OTHER, max_tokens=4)
    restored = await local.acomplete(q2, max_tokens=16)
    assert restored.text == cold.text


@pytest.mark.integration
async def test_saved_states_are_bounded(local: LocalProvider, engine: _Engine) -> None:
    for i in range(PREFIX_STATES + 2):
        await local.acomplete([system(f"Variant {i}. {CATALOGUE}"), user(Q1)], max_tokens=1)
    assert len(engine.prefix_states) == PREFIX_STATES


@pytest.mark.integration
async def test_a_short_system_message_is_not_saved(local: LocalProvider, engine: _Engine) -> None:
    await local.acomplete(OTHER, max_tokens=1)
    assert len(engine.prefix_states) == 0


EXAMPLE_Q = "What is the area of Chile?"
EXAMPLE_PLAN = '1. country_facts("Chile")\nAnswer: Chile covers {$1.area_km2} square kilometres.'


def with_example(question: str) -> list[Message]:
    return [system(CATALOGUE), user(EXAMPLE_Q), assistant(EXAMPLE_PLAN), user(question)]


@pytest.mark.integration
async def test_the_examples_are_restored_with_the_catalogue(
    local: LocalProvider, engine: _Engine
) -> None:
    q2 = with_example(Q2)
    plain = [{"role": m["role"], "content": m["content"]} for m in q2]
    full = tokens_of(engine, q2)
    bounds = engine.fixed_prefixes(plain, full)
    assert len(bounds) == 2 and bounds[0] == engine.fixed_prefix(plain, full)

    await local.acomplete(with_example(Q1), max_tokens=1)  # saves both prefixes
    assert len(engine.prefix_states) == 2
    await local.acomplete(OTHER, max_tokens=1)
    assert await evaluated_by(local, engine, q2) == len(full) - bounds[-1]  # the question only


@pytest.mark.integration
async def test_a_restored_example_prefix_answers_exactly_like_a_cold_prompt(
    local: LocalProvider, engine: _Engine
) -> None:
    q2 = with_example(Q2)
    engine.keep_prefix = False
    engine.llama.reset()
    cold = await local.acomplete(q2, max_tokens=16)

    engine.keep_prefix = True
    engine.llama.reset()
    await local.acomplete(with_example(Q1), max_tokens=4)
    await local.acomplete(OTHER, max_tokens=4)
    restored = await local.acomplete(q2, max_tokens=16)
    assert restored.text == cold.text


@pytest.mark.integration
async def test_a_saved_state_holds_the_cache_not_a_logits_matrix(
    local: LocalProvider, engine: _Engine
) -> None:
    await local.acomplete(with_example(Q1), max_tokens=1)
    held = sum(len(key) for key in engine.prefix_states.states)
    # ~23 KB a token of KV cache; a copy of the logits rows would be ~200 KB a token.
    assert 0 < engine.prefix_states.nbytes() < 40_000 * held
