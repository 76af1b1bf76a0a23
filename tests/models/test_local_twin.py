"""Two calls at once on the embedded model: the twin context, and the prompt it is left.

The planner draws its first two samples at once; the second runs on a twin
context of the same weights (its own KV cache), on the other core. The two
calls share their prompt: whichever evaluates it first leaves the whole
prompt's state, and the other restores it and reads two tokens. What is
asserted: the twin is used, the prompt is read once, and two calls at once
write exactly what the same calls write one after the other (same seeds).
Integration: the real model; nothing here is about time.
"""

from __future__ import annotations

import asyncio

import pytest

from veritask.models.base import Completion, system, user
from veritask.models.local import LocalProvider

pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.integration

# A beekeeping catalogue long enough to be worth a saved state (invented domain).
SYSTEM = "You write plans for questions about our apiary. Tools: " + " ".join(
    f"hive_{i}(name) returns the colony, frames and honey_kg of hive group {i};" for i in range(12)
)
MESSAGES = [system(SYSTEM), user("How much honey did the Clover hive give this season?")]
GRAMMAR = r"""root ::= "1. hive_" [0-9] "(\"Clover\")\nAnswer: " words "{$1.honey_kg}" tail "\n"
words ::= [a-zA-Z ]{1,40}
tail ::= [a-z ]{0,20}
"""


async def two(provider: LocalProvider, *, at_once: bool) -> list[Completion]:
    calls = [
        provider.acomplete(MESSAGES, grammar=GRAMMAR, max_tokens=48, temperature=t)
        for t in (0.0, 0.9)
    ]
    if at_once:
        return list(await asyncio.gather(*calls))
    return [await c for c in calls]


def test_two_calls_at_once_write_what_they_write_one_after_the_other() -> None:
    apart = asyncio.run(two(LocalProvider(seed=5), at_once=False))
    provider = LocalProvider(seed=5)
    engine = provider.engine()
    engine.prefix_states.clear()
    engine.llama.reset()
    together = asyncio.run(two(provider, at_once=True))
    assert [c.text for c in together] == [c.text for c in apart]
    assert engine.twin is not None and engine.twin.in_flight == 0 == engine.in_flight


def test_the_prompt_is_read_once_for_both_calls() -> None:
    provider = LocalProvider(seed=9)
    engine = provider.engine()
    asyncio.run(two(provider, at_once=True))  # makes the twin if no test did yet
    twin = engine.twin
    assert twin is not None
    for slot in (engine, twin):
        slot.prefix_states.clear()
        slot.llama.reset()
    before = engine.evaluated + twin.evaluated
    asyncio.run(two(provider, at_once=True))
    prompt = len(engine.prompt_tokens(MESSAGES))
    # One context reads the prompt; the other restores it and reads its last two tokens.
    assert engine.evaluated + twin.evaluated - before == prompt + 2
