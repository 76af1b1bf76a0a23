"""The token loop of the embedded model: sample, decode, and replay a recorded path.

Why a loop of our own instead of `Llama.generate`: a question's plan samples
share their prompt and grammar, and the first (greedy) one usually writes
what the later ones write. The logits at a position depend only on the
tokens before it, so while a later sample picks the same tokens as the
recorded one, its logits are the recorded ones: it is sampled from them
without decoding anything, and only from the first token where it differs
does the model run again, from the KV cache the recorded sample left (which
holds exactly the shared path). The sampler chain, its grammar state and its
random draws are those of a plain run, token for token, so a replayed
sample is the sample a plain run with the same seed would have drawn
(`tests/models/test_local_replay.py` checks that on the real model).
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from veritask.models._llama_forced import ForcedText, forced_text, forces, grammar_sampler
from veritask.models.base import Choice, TokenLogprob

if TYPE_CHECKING:
    from veritask.models.local import _Engine


class Cancelled(Exception):
    """The awaiting call was cancelled; stop generating and release the lock."""


@dataclass
class Sample:
    choice: Choice
    prompt_tokens: int
    output_tokens: int
    replayed: int = 0
    """Leading tokens taken from the previous sample's record, with no decoding."""


@dataclass
class Record:
    """The path the last sample took: its prompt, grammar, tokens and the logits
    each token was chosen from (`logits[i]` follows `prompt + tokens[:i]`)."""

    prompt: tuple[int, ...]
    grammar: tuple[str, str] | None
    tokens: list[int] = field(default_factory=list)
    logits: list[Any] = field(default_factory=list)
    """None for a token the grammar forced (see `_llama_forced`): it had no choice."""
    tail: int = 1
    """Trailing tokens never evaluated: the last chosen one and any forced after it."""
    forcing: bool = False
    """Whether grammar-forced text was taken in batches: a sample that forces follows
    only a record that did (the two tokenize the same text differently)."""


def grammar_key(grammar: Any) -> tuple[str, str] | None:
    """What makes two compiled grammars the same (LlamaGrammar holds only these)."""
    return None if grammar is None else (grammar._grammar, grammar._root)


class _Chooser:
    """The sampler chain of one sample (what `Llama.generate` would build), applied
    either to the context's last logits or to recorded ones."""

    def __init__(self, engine: _Engine, grammar: Any, temperature: float) -> None:
        self._engine = engine
        self._lib = engine._llama_cpp
        self.chain = engine.llama._init_sampler(
            temp=temperature, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0, grammar=grammar
        )
        self._data: Any = None

    def live(self) -> int:
        """Choose from the context's last logits (and accept), like `Llama.sample`."""
        token: int = self._lib.llama_sampler_sample(
            self.chain.sampler, self._engine.llama._ctx.ctx, -1
        )
        return token

    def replayed(self, logits: Any) -> int:
        """Choose from recorded logits exactly as `live` would from the same ones."""
        if self._data is None:
            from llama_cpp._internals import LlamaTokenDataArray

            self._data = LlamaTokenDataArray(n_vocab=self._engine.n_vocab)
        data = self._data
        data.copy_logits(logits)
        data.candidates.selected = -1
        self._lib.llama_sampler_apply(self.chain.sampler, ctypes.byref(data.candidates))
        selected = data.candidates.selected
        if not 0 <= selected < data.candidates.size:
            raise RuntimeError("llama.cpp's sampler chain selected no token")
        token = int(data.candidates_data.id[selected])
        self._lib.llama_sampler_accept(self.chain.sampler, token)
        return token

    def force(self, token: int) -> None:
        """Accept a token the grammar forced, with no choice drawn."""
        self._lib.llama_sampler_accept(self.chain.sampler, token)

    def close(self) -> None:
        self.chain.close()


class _GrammarProbe:
    """One generation's grammar, asked about one token at a time or about all of them.

    llama.cpp's sampler chain checks every token of the vocabulary against the
    grammar at every position (a few ms a token for a 49k vocabulary); the
    choosers below ask only about the few tokens that can win, and fall back
    to the whole vocabulary only when those are all refused. `GrammarMirror`
    asks about all of them, to renormalise a token's log-probability.
    """

    def __init__(self, engine: _Engine, grammar: Any) -> None:
        from llama_cpp._internals import LlamaTokenDataArray

        self._lib = lib = engine._llama_cpp
        self._np = engine._np
        self._sampler = None
        if grammar is not None:
            self._sampler = grammar_sampler(engine, grammar)
        self._data = LlamaTokenDataArray(n_vocab=engine.n_vocab)
        self._one = (lib.llama_token_data * 1)()
        self._one_array = lib.llama_token_data_array(
            data=self._one, size=1, selected=-1, sorted=False
        )

    def allows(self, token: int, logit: float) -> bool:
        if self._sampler is None:
            return True
        one = self._one[0]
        one.id, one.logit, one.p = token, logit, 0.0
        self._one_array.size, self._one_array.selected = 1, -1
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(self._one_array))
        return math.isfinite(self._one[0].logit)

    def allowed_logits(self, logits: Any) -> Any:
        """`logits` with every token the grammar refuses here set to -inf (by token id)."""
        if self._sampler is None:
            return logits
        data = self._data
        data.copy_logits(logits)
        data.candidates.selected = -1
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(data.candidates))
        size = data.candidates.size
        out = self._np.full_like(logits, -self._np.inf)
        out[data.candidates_data.id[:size]] = data.candidates_data.logit[:size]
        return out

    def accept(self, token: int) -> None:
        if self._sampler is not None:
            self._lib.llama_sampler_accept(self._sampler, token)

    def close(self) -> None:
        if self._sampler:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None


class GrammarMirror:
    """A second copy of a generation's grammar, kept in step with the sampler's.

    llama.cpp applies the grammar inside its sampler chain, out of our reach;
    this copy is applied to each position's logits to learn which tokens were
    allowed there, so a token's log-probability is renormalised over them.
    """

    def __init__(self, engine: _Engine, grammar: Any) -> None:
        self._engine = engine
        self._grammar = _GrammarProbe(engine, grammar)

    def logprob(self, token: int) -> float:
        """`token`'s log-probability among the tokens the grammar allows; then accept it."""
        np = self._engine._np
        logits = self._grammar.allowed_logits(self._engine.last_logits())
        allowed = logits[np.isfinite(logits)]
        own = float(logits[token])
        if allowed.size == 0 or not math.isfinite(own):
            raise ValueError(f"token {token} is not allowed by the grammar here")
        top = float(allowed.max())
        lse = top + math.log(float(np.exp(allowed - top).sum(dtype=np.float64)))
        self._grammar.accept(token)
        return own - lse

    def close(self) -> None:
        self._grammar.close()


class _GreedyChooser:
    """Greedy choice under a grammar that asks the grammar about one token, not all.

    The most likely token overall, when the grammar allows it, is the most
    likely allowed token — the same first maximum llama.cpp's greedy pick
    takes — so only when the grammar refuses it is the whole vocabulary checked.
    """

    def __init__(self, engine: _Engine, grammar: Any) -> None:
        self._engine = engine
        self._np = engine._np
        self._grammar = _GrammarProbe(engine, grammar)

    def live(self) -> int:
        return self.replayed(self._engine.last_logits())

    def replayed(self, logits: Any) -> int:
        token = int(self._np.argmax(logits))
        if not self._grammar.allows(token, float(logits[token])):
            token = int(self._np.argmax(self._grammar.allowed_logits(logits)))
        self._grammar.accept(token)
        return token

    def force(self, token: int) -> None:
        self._grammar.accept(token)

    def close(self) -> None:
        self._grammar.close()


class _TemperatureChooser:
    """A sample at a temperature that asks the grammar only about tokens that can win.

    What it draws from: the grammar's allowed tokens whose probability is at
    least `min_p` of the likeliest allowed one's, at most `top_k` of them, cut
    to the smallest set holding `top_p` of their mass, sharpened or flattened
    by the temperature — llama.cpp's chain (top-k 40, top-p 0.95, min-p 0.05)
    in all but two details: top-p is taken within the min-p window (llama.cpp
    takes it over the top-k before min-p), and the random draw is numpy's,
    seeded by the sample's seed. Every token outside the window has under 5 %
    of the best one's probability, so the window is found by asking the
    grammar about the highest logits in turn, which is a handful of tokens
    instead of the whole vocabulary (~0.2 ms a token instead of ~4). When the
    highest `candidates` logits do not close the window, the whole vocabulary
    is checked; both ways draw the same token (comparisons in float64 on both,
    `tests/models/test_local_replay.py`).
    """

    def __init__(
        self,
        engine: _Engine,
        grammar: Any,
        temperature: float,
        seed: int,
        *,
        min_p: float = 0.05,
        top_p: float = 0.95,
        top_k: int = 40,
        candidates: int = 64,
    ) -> None:
        np = engine._np
        self._engine = engine
        self._np = np
        self._grammar = _GrammarProbe(engine, grammar)
        self._temperature = temperature
        self._rng = np.random.default_rng(seed)
        self._gap = math.log(1.0 / min_p)
        self._top_p = top_p
        self._top_k = top_k
        self.candidates = candidates

    def live(self) -> int:
        return self.replayed(self._engine.last_logits())

    def replayed(self, logits: Any) -> int:
        ids, window = self._window(logits)
        token = self._draw(ids, window)
        self._grammar.accept(token)
        return token

    def force(self, token: int) -> None:
        self._grammar.accept(token)

    def _window(self, logits: Any) -> tuple[Any, Any]:
        """The allowed tokens within the min-p window (at most top-k), likeliest first,
        and their logits."""
        np = self._np
        n = min(self.candidates, logits.shape[0])
        top = np.argpartition(-logits, n - 1)[:n] if n < logits.shape[0] else np.arange(n)
        top = top[np.lexsort((top, -logits[top]))]  # by logit, ties by id
        kept: list[int] = []
        floor = None
        for token in top.tolist():
            logit = float(logits[token])
            if floor is not None and logit < floor:
                return np.array(kept), logits[kept]
            if self._grammar.allows(token, logit):
                if floor is None:
                    floor = logit - self._gap
                kept.append(token)
                if len(kept) == self._top_k:
                    return np.array(kept), logits[kept]
        if n == logits.shape[0] and kept:
            return np.array(kept), logits[kept]
        allowed = self._grammar.allowed_logits(logits).astype(np.float64)
        best = float(allowed.max())
        if not math.isfinite(best):
            raise RuntimeError("the grammar allows no token here")
        ids = np.flatnonzero(allowed >= best - self._gap)
        ids = ids[np.lexsort((ids, -allowed[ids]))][: self._top_k]
        return ids, logits[ids]

    def _draw(self, ids: Any, window: Any) -> int:
        np = self._np
        shifted = window.astype(np.float64) - float(window[0])
        mass = np.exp(shifted)
        mass /= mass.sum()
        keep = min(int(np.searchsorted(np.cumsum(mass), self._top_p)) + 1, len(ids))
        weights = np.exp(shifted[:keep] / self._temperature)
        pick = np.searchsorted(np.cumsum(weights), self._rng.random() * weights.sum(), "right")
        return int(ids[min(int(pick), keep - 1)])

    def close(self) -> None:
        self._grammar.close()


Chooser = _Chooser | _GreedyChooser | _TemperatureChooser


def replayable(engine: _Engine, tokens: list[int], grammar: Any, forcing: bool) -> Record | None:
    """The last sample's record if this sample may follow it: same prompt, grammar and
    forcing (see `Record.forcing`), and the KV cache still holds that prompt and the
    recorded tokens but the last `tail` (never evaluated)."""
    record = engine.record
    if record is None or not record.tokens or record.grammar != grammar_key(grammar):
        return None
    if record.forcing != forcing:
        return None
    if record.prompt != tuple(tokens):
        return None
    held = len(tokens) + len(record.tokens) - record.tail
    if engine.llama.n_tokens < held:
        return None
    cached = engine.llama.input_ids[:held].tolist()
    return record if cached == [*tokens, *record.tokens[: held - len(tokens)]] else None


class _Path:
    """Where each next token comes from: the previous sample's record while this
    sample picks the same tokens, then the model, decoding from the shared cache."""

    def __init__(self, engine: _Engine, tokens: list[int], previous: Record | None) -> None:
        self._engine = engine
        self._prompt = len(tokens)
        self._previous = previous
        self._pending: list[int] = [] if previous is not None else tokens[engine.llama.n_tokens :]
        self.replayed = 0

    def next(self, chooser: Chooser, step: int) -> tuple[int, Any]:
        """The token at `step` (accepted by the chain) and the logits it came from."""
        llama, previous = self._engine.llama, self._previous
        if previous is not None and step < len(previous.tokens):
            logits = previous.logits[step]
            token = chooser.replayed(logits)
            if token == previous.tokens[step]:
                self.replayed += 1
            else:  # the paths part here: the cache holds the shared part
                llama.n_tokens = self._prompt + step
                self._previous = None
        else:
            if previous is not None:  # followed the record past its end
                llama.n_tokens = self._prompt + step - len(self._pending)
                self._previous = None
            if self._pending:  # the prompt (counted by prefill), or the last token and
                llama.eval(self._pending)  # any text the grammar forced after it
            token = chooser.live()
            logits = self._engine.last_logits().copy()
        self._pending = [token]
        return token, logits

    def forced(self, tokens: list[int]) -> None:
        """Tokens the grammar forced after the last one: evaluated with it in one batch."""
        self._pending.extend(tokens)

    @property
    def unevaluated(self) -> int:
        return len(self._pending)


def _chooser(engine: _Engine, grammar: Any, temperature: float, seed: int) -> Chooser:
    if temperature == 0.0 and engine.fast_greedy:
        return _GreedyChooser(engine, grammar)
    if temperature > 0.0 and engine.fast_temperature:
        return _TemperatureChooser(engine, grammar, temperature, seed)
    return _Chooser(engine, grammar, temperature)


def _logprob(engine: _Engine, token: int, piece: bytes, pieces: list[bytes]) -> TokenLogprob:
    """The chosen `token`'s log-probability over the whole vocabulary, at its text offset."""
    offset = len(b"".join(pieces).decode("utf-8", errors="replace"))
    text = piece.decode("utf-8", errors="replace")
    return TokenLogprob(text, engine.last_logprob(token), offset)


def _force(
    tokens: list[int],
    chooser: Chooser,
    path: _Path,
    record: Record,
    pieces: list[bytes],
    max_tokens: int,
    llama: Any,
) -> None:
    """Take the grammar's forced `tokens` as output, up to `max_tokens` in all."""
    tokens = tokens[: max(0, max_tokens - len(pieces))]
    for token in tokens:
        chooser.force(token)
        record.tokens.append(token)
        record.logits.append(None)
        pieces.append(llama.detokenize([token]))
    path.forced(tokens)


def generate(
    engine: _Engine,
    tokens: list[int],
    *,
    grammar: Any,
    max_tokens: int,
    temperature: float,
    logprobs: bool,
    seed: int,
    cancel: threading.Event,
    prefix: int | Sequence[int] = (),
) -> Sample:
    """Generate one answer; the caller holds the engine's lock. See the module's doc."""
    llama = engine.llama
    # Log-probabilities are per chosen token: a sample that reports them forces nothing.
    forcing = not logprobs and forces(engine, grammar)
    replay = engine.replay and not logprobs
    previous = replayable(engine, tokens, grammar, forcing) if replay else None
    if previous is None:
        engine.prefill(tokens, prefix)
    llama.set_seed(seed)  # after prefill: restoring a saved state resets the seed
    chooser = _chooser(engine, grammar, temperature, seed)
    path = _Path(engine, tokens, previous)
    record = Record(tuple(tokens), grammar_key(grammar), forcing=forcing)
    engine.record = None  # until this sample ends, the cache matches no record
    mirror: GrammarMirror | None = None
    forced: ForcedText | None = None
    pieces: list[bytes] = []
    lps: list[TokenLogprob] = []
    allowed: list[float] = []
    finish, end = "length", None
    try:
        mirror = GrammarMirror(engine, grammar) if logprobs and grammar is not None else None
        forced = forced_text(engine, grammar) if forcing else None
        if forced is not None:
            _force(forced.after(None), chooser, path, record, pieces, max_tokens, llama)
        while len(pieces) < max_tokens:
            if cancel.is_set():
                raise Cancelled
            token, logits = path.next(chooser, len(record.tokens))
            record.tokens.append(token)
            record.logits.append(logits)
            if engine.is_end(token):
                finish = "stop"
                if mirror is not None:  # stopping here was one choice among others
                    end = mirror.logprob(token)
                break
            piece = llama.detokenize([token])
            if logprobs:
                lps.append(_logprob(engine, token, piece, pieces))
                if mirror is not None:
                    allowed.append(mirror.logprob(token))
            pieces.append(piece)
            if forced is not None:
                _force(forced.after(token), chooser, path, record, pieces, max_tokens, llama)
        record.tail = min(path.unevaluated, len(record.tokens))  # a prompt tail is not one
        engine.record = record
        engine.replayed += path.replayed
    finally:
        chooser.close()
        if mirror is not None:
            mirror.close()
        if forced is not None:
            forced.close()
    text = b"".join(pieces).decode("utf-8", errors="replace")
    constrained = tuple(allowed) if mirror is not None else None
    choice = Choice(text, None, tuple(lps) if logprobs else None, finish, constrained, end)
    return Sample(choice, len(tokens), len(pieces), path.replayed)
