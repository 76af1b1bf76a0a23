"""Saved llama.cpp states of a prompt's fixed prefixes, restored instead of re-read.

A planner prompt is a system message (tool catalogue, instructions), example
turns chosen per question, then the question. llama.cpp keeps only the last
prompt's KV cache, so whatever ran in between (another question with other
examples, another kind of prompt) makes the next prompt read its catalogue
and examples again. This keeps the evaluated state at each message boundary
before the question — after the system message and after each example turn
— for the most recently used prefixes, and restores the deepest one a new
prompt shares. Examples recur across questions of a kind, so most prompts
find their catalogue and some or all of their examples saved.

A state is the context's own data (`llama_state_get_data`: the KV cells in
use, ~23 KB a token for SmolLM2-135M), not `Llama.save_state`, which also
copies a logits matrix of up to 512 rows × the vocabulary (~100 MB for this
model) that sampling never reads. The prompt is evaluated in pieces split
at the boundaries; llama.cpp computes a batch of several tokens bitwise the
same whatever the split, so a restored prefix answers exactly like a cold
prompt (`tests/models/test_local_prefix.py`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from veritask.models._llama_disk import DiskStates
from veritask.models._llama_twin import SavedState, load_state, save_state

PREFIX_STATES = 12
"""Prefix states kept per engine (a 600-token prefix of SmolLM2-135M is ~14 MB).
The least recently used goes first, but a system message's state (a prompt's
first boundary) only when no deeper state is left or such states fill more
than half the room: every call of its kind
starts with it, while an example turn's state serves only questions with the
same leading examples. Without that, the examples of a few planner questions
pushed the deep agent's ~800-token system message out between two of its
uses, and each use read it again (~2 s)."""

MIN_PREFIX = 64
"""Shorter prefixes are cheaper to re-read than to save and restore."""


class PrefixStates:
    """An LRU of saved states keyed by the prefix's tokens."""

    def __init__(
        self, lib: Any, capacity: int = PREFIX_STATES, *, disk: DiskStates | None = None
    ) -> None:
        self._lib = lib
        self.capacity = capacity
        self.disk = disk
        """Where system-message states are also kept for later processes (`_llama_disk`)."""
        self.states: OrderedDict[tuple[int, ...], SavedState] = OrderedDict()
        self._roots: set[tuple[int, ...]] = set()
        """Keys of system-message states (a prompt's first boundary)."""

    def __len__(self) -> int:
        return len(self.states)

    def clear(self) -> None:
        self.states.clear()
        self._roots.clear()

    def nbytes(self) -> int:
        """Memory the saved states hold."""
        return sum(len(s.data) for s in self.states.values())

    def bring(
        self, llama: Any, tokens: list[int], bounds: Sequence[int], common: int
    ) -> tuple[int, int]:
        """Make the cache hold `tokens` up to the last of `bounds` (each ≤ what the caller
        keeps), restoring the deepest saved prefix past `common` (the tokens it already
        holds) and evaluating the rest boundary by boundary, saving each. Returns the
        tokens the cache now holds and how many of them were evaluated here."""
        for b in bounds:  # prefixes the cache already holds stay recent
            if b <= common and tuple(tokens[:b]) in self.states:
                self.states.move_to_end(tuple(tokens[:b]))
        for b in reversed(bounds):
            if b <= common:
                break
            key = tuple(tokens[:b])
            state = self.states.get(key)
            if state is not None:
                self._load(llama, state, tokens)
                self.states.move_to_end(key)
                common = b
                break
            if b == bounds[0] and self.disk is not None:
                restored = self._from_disk(llama, key, tokens)
                common = common if restored is None else restored
        evaluated = 0
        for i, b in enumerate(bounds):
            if b > common:
                llama.n_tokens = common
                llama.eval(tokens[common:b])
                evaluated += b - common
                common = b
                state = self._save(llama)
                self._put(tuple(tokens[:b]), state, root=i == 0)
                if i == 0 and self.disk is not None:
                    self.disk.put(tuple(tokens[:b]), state)
        return common, evaluated

    def _from_disk(self, llama: Any, key: tuple[int, ...], tokens: list[int]) -> int | None:
        """Restore a system message's state an earlier process kept: the tokens the cache
        then holds, or None when no file holds it. When llama.cpp refuses the file, it
        goes and 0 is returned: what the refused load left is read again from the start."""
        assert self.disk is not None
        state = self.disk.get(key)
        if state is None:
            return None
        try:
            self._load(llama, state, tokens)
        except RuntimeError:
            self.disk.forget(key)
            llama.n_tokens = 0
            return 0
        self.disk.loaded += 1
        self._put(key, state, root=True)
        return len(key)

    def _put(self, key: tuple[int, ...], state: SavedState, *, root: bool = False) -> None:
        self.states[key] = state
        self.states.move_to_end(key)
        if root:
            self._roots.add(key)
        while len(self.states) > self.capacity:
            deeper = next((k for k in self.states if k not in self._roots), None)
            # Roots may hold at most half the room, or stale ones would keep it forever.
            crowded = len(self._roots) > self.capacity // 2
            gone = next(iter(self.states)) if deeper is None or crowded else deeper
            del self.states[gone]
            self._roots.discard(gone)

    def _save(self, llama: Any) -> SavedState:
        return save_state(self._lib, llama)

    def _load(self, llama: Any, state: SavedState, tokens: list[int]) -> None:
        load_state(self._lib, llama, state, tokens)
