"""A second context on the embedded model's weights, so two calls decode at once.

A small model decodes a token on one thread (see `local.decode_threads`), so
on a machine with two cores one of them idles while a plan sample decodes.
The planner draws its first two samples at once (greedy and one at a
temperature); with a twin context the second decodes on the other core
instead of waiting, and a question the model finds easy is planned in about
the time of one sample. `benchmarks/model_speed.py` measures two calls at
once against the same two one after the other (`two_calls_at_once_speedup`).

The twin shares the loaded weights (no second copy; only its own KV cache and
buffers, ~100 MB for a 4k context of SmolLM2-135M) and the saved prompt
states. The two calls of one question share their prompt: the first to
evaluate it leaves the whole prompt's state for the other (`Handoff`), which
restores it instead of reading the prompt again — while the first starts
decoding.
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import threading
from collections import Counter, OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

HANDOFF_STATES = 2
"""Whole-prompt states waiting for their twin call (each ~16 MB for 700 tokens)."""


@dataclass(frozen=True)
class SavedState:
    """A context's KV cells (`llama_state_get_data`) and how many tokens they hold."""

    data: bytes
    n_tokens: int


def save_state(lib: Any, llama: Any) -> SavedState:
    ctx = llama._ctx.ctx
    size = lib.llama_state_get_size(ctx)
    buf = (ctypes.c_uint8 * size)()
    n = lib.llama_state_get_data(ctx, buf, size)
    if n > size:
        raise RuntimeError("llama.cpp wrote more state than it said it would")
    return SavedState(ctypes.string_at(buf, n), llama.n_tokens)


def load_state(lib: Any, llama: Any, state: SavedState, tokens: list[int]) -> None:
    """Make `llama`'s cache hold `tokens[:state.n_tokens]` from a saved state (of
    either context of the same model)."""
    size = len(state.data)
    buf = (ctypes.c_uint8 * size).from_buffer_copy(state.data)
    if lib.llama_state_set_data(llama._ctx.ctx, buf, size) != size:
        raise RuntimeError("llama.cpp refused a saved state")
    llama.input_ids[: state.n_tokens] = tokens[: state.n_tokens]
    llama.n_tokens = state.n_tokens


class Handoff:
    """Which prompts more than one call is working on, and whole-prompt states left
    for the later one. Calls announce their prompt (by its messages, before they
    are tokenized) when they are submitted and withdraw when they end."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        """Held while a context prefills: saved states are read and written under it."""
        self.enabled = False
        """True once the engine has a twin: without one, nothing could take a state."""
        self._count_lock = threading.Lock()
        """Guards the counts and the states (never held for long: the event loop takes it)."""
        self._calls: Counter[Hashable] = Counter()
        self._states: OrderedDict[tuple[int, ...], tuple[Hashable, SavedState]] = OrderedDict()

    def announce(self, key: Hashable) -> None:
        with self._count_lock:
            self._calls[key] += 1

    def withdraw(self, key: Hashable) -> None:
        """The call ended; when no call of its prompt is left, neither is its state."""
        with self._count_lock:
            self._calls[key] -= 1
            if self._calls[key] > 0:
                return
            del self._calls[key]
            for tokens in [t for t, (k, _) in self._states.items() if k == key]:
                del self._states[tokens]

    def shared(self, key: Hashable) -> bool:
        """Whether another call announced the same prompt."""
        with self._count_lock:
            return self._calls[key] > 1

    def leave(self, key: Hashable, tokens: tuple[int, ...], state: SavedState) -> None:
        with self._count_lock:
            if key not in self._calls:
                return  # the other call has ended meanwhile
            self._states[tokens] = (key, state)
            while len(self._states) > HANDOFF_STATES:
                self._states.popitem(last=False)

    def take(self, tokens: tuple[int, ...]) -> SavedState | None:
        with self._count_lock:
            left = self._states.pop(tokens, None)
        return None if left is None else left[1]


def twin_llama(llama: Any) -> Any:
    """Another `llama_cpp.Llama` on `llama`'s loaded model, with its own context,
    batch and token bookkeeping; closing it frees only those."""
    import numpy as np
    from llama_cpp import _internals as internals

    twin = object.__new__(type(llama))
    # Every attribute but functions set on the instance: a method patched onto the
    # original (a profiler's timer around `eval`) is bound to the original's
    # context, and the twin would decode on it from another thread.
    twin.__dict__.update(
        (k, v)
        for k, v in llama.__dict__.items()
        if not (inspect.isfunction(v) or inspect.ismethod(v))
    )
    stack = contextlib.ExitStack()
    twin._stack = stack
    twin._ctx = stack.enter_context(
        contextlib.closing(
            internals.LlamaContext(model=llama._model, params=llama.context_params, verbose=False)
        )
    )
    twin._batch = stack.enter_context(
        contextlib.closing(
            internals.LlamaBatch(
                n_tokens=llama.n_batch,
                embd=0,
                n_seq_max=llama.context_params.n_ctx,
                verbose=False,
            )
        )
    )
    twin._candidates = internals.LlamaTokenDataArray(n_vocab=llama._n_vocab)
    twin.n_tokens = 0
    twin._requires_eval = True
    twin.input_ids = np.ndarray(llama.input_ids.shape, dtype=np.intc)
    twin.scores = np.ndarray(llama.scores.shape, dtype=np.single)
    twin._mirostat_mu = ctypes.c_float(2.0 * 5.0)
    twin._sampler = None
    twin.cache = None
    return twin


__all__ = ["Handoff", "SavedState", "load_state", "save_state", "twin_llama"]
