"""Which saved prompt state goes first when the engine keeps too many.

A fake llama stands in for llama.cpp: what is tested is the bookkeeping
(which prefixes stay restorable), not the model; the real model's states are
tested in test_local_prefix.py.
"""

from __future__ import annotations

from typing import Any

from veritask.models._llama_prefix import PrefixStates
from veritask.models._llama_twin import SavedState


class FakeLlama:
    def __init__(self) -> None:
        self.n_tokens = 0
        self.input_ids = [0] * 10_000
        self.evaluated: list[int] = []

    def eval(self, tokens: list[int]) -> None:
        self.evaluated += tokens
        self.n_tokens += len(tokens)


class Saving(PrefixStates):
    def _save(self, llama: Any) -> SavedState:
        return SavedState(b"x", llama.n_tokens)

    def _load(self, llama: Any, state: SavedState, tokens: list[int]) -> None:
        llama.n_tokens = state.n_tokens


def prompt(system: int, *examples: int) -> tuple[list[int], list[int]]:
    """Tokens of a prompt (a 100-token system message, 50-token example turns, a
    question) and its boundaries."""
    tokens = [system] * 100
    bounds = [100]
    for e in examples:
        tokens += [e] * 50
        bounds.append(len(tokens))
    return [*tokens, 7, 7, 7], bounds


def bring(states: PrefixStates, llama: FakeLlama, system: int, *examples: int) -> int:
    tokens, bounds = prompt(system, *examples)
    llama.evaluated.clear()
    states.bring(llama, tokens, bounds, 0)
    return len(llama.evaluated)


def test_example_states_go_before_a_system_messages_state() -> None:
    states, llama = Saving(lib=None, capacity=4), FakeLlama()
    bring(states, llama, 1)  # the deep agent's system message, used once
    for question in range(5):  # planner questions, each with new examples
        bring(states, llama, 2, 10 + question, 20 + question)
    # The agent's system message is still saved although it is the oldest state.
    assert bring(states, llama, 1) == 0
    assert len(states) == 4


def test_system_states_go_oldest_first_when_nothing_else_is_left() -> None:
    states, llama = Saving(lib=None, capacity=2), FakeLlama()
    for system in (1, 2, 3):
        bring(states, llama, system)
    assert bring(states, llama, 3) == 0
    assert bring(states, llama, 1) == 100  # the oldest went


def test_system_states_hold_at_most_half_the_room() -> None:
    states, llama = Saving(lib=None, capacity=4), FakeLlama()
    for system in (1, 2, 3, 4):  # four kinds of prompt, one state each
        bring(states, llama, system)
    bring(states, llama, 5, 50)  # a fifth kind with an example
    assert len(states) == 4
    assert bring(states, llama, 5, 50) == 0  # its states were kept, the oldest roots went
    assert bring(states, llama, 1) == 100
