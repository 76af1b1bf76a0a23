"""The text a grammar leaves no choice about, read in one batch instead of token by token.

Why: most of a plan is fixed once a few characters are chosen. After
` st` the grammar of a railway question allows only `ation_facts("`; after
`"Juniper` only ` Row")` and a newline. The model would write those
characters anyway, one decode (one pass over the weights) per token; a
batch of several tokens costs little more than one token on a CPU, whose
time goes to reading the weights. So after each chosen token the grammar
is asked which characters it still allows, one character at a time, and
while exactly one is allowed (and the text may not end there), that
character is forced. The forced characters are tokenized, and all their
tokens but the last are evaluated with the chosen token in one batch
(SGLang calls this jump-forward decoding). The last is left to the model,
so that the token it would write across the end of the forced text can
still be written (see `ForcedText.after`).

What it changes: a sample's text is one the grammar allows, and its free
choices are still the model's, but the forced part is tokenized on its own,
which can split a word where the model would not have (`J` + `uniper`).
Forced tokens are counted as output tokens and carry no logits (they had
no choice), and a temperature sample draws no random number for them, so
a seed draws another sample than it did without forcing.
`_Engine.jump_forward = False` turns it off.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from veritask.models.local import _Engine

MAX_FORCED_CHARS = 48
"""Longest forced run taken at once: longer ones are taken in pieces (a name
that long is rare; the cap only bounds one probe walk)."""


TEXT_BYTES = frozenset([0x09, 0x0A, 0x0D, *range(0x20, 0x7F), *range(0xC2, 0xF1)])
"""Bytes that must each have a token: plain ASCII text, and the lead bytes of every
character up to the emoji planes (a grammar allowing `a` or `é` must not force `a`)."""


def grammar_sampler(engine: _Engine, grammar: Any) -> Any:
    """A lone llama.cpp grammar sampler for `grammar` (a `LlamaGrammar`), outside any
    sampler chain: asked about chosen tokens, never drawing one. Free it with
    `llama_sampler_free`."""
    lib = engine._llama_cpp
    sampler = lib.llama_sampler_init_grammar(
        engine.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
    )
    if not sampler:
        raise ValueError("llama.cpp refused the grammar")
    return sampler


class ByteTokens:
    """The vocabulary's one-byte tokens and end-of-generation tokens, found once per model.

    Asking the grammar about each one-byte token is asking which next bytes
    it allows; a lead byte of a multi-byte character is allowed when the
    character may follow (llama.cpp's grammar matches partial UTF-8).
    """

    def __init__(self, engine: _Engine) -> None:
        np = engine._np
        lib = engine._llama_cpp
        buffer = (ctypes.c_char * 8)()
        ids: list[int] = []
        values: list[int] = []
        ends: list[int] = []
        for token in range(engine.n_vocab):
            if engine.is_end(token):
                ends.append(token)
                continue
            n = lib.llama_token_to_piece(engine.vocab, token, buffer, 8, 0, False)
            if n == 1 and buffer.raw[0] not in values:
                ids.append(token)
                values.append(buffer.raw[0])
        self.ids = np.array([*ids, *ends], dtype=np.intc)
        self.values = [*values, *([-1] * len(ends))]
        """Each id's byte; -1 for an end-of-generation token."""
        self.complete = set(values) >= TEXT_BYTES
        """Whether every byte of plain text has a token: without that, "one allowed
        byte" proves nothing. (SmolLM2 has none for a few control bytes, for bytes
        no UTF-8 text holds and for the lead bytes of planes 4-11; a grammar that
        allows one of those next and only one other byte is not one a plan or
        answer is written in.)"""


class ForcedText:
    """A copy of one generation's grammar, kept in step with the chosen tokens, that
    says which tokens follow with no choice (see the module's doc)."""

    def __init__(self, engine: _Engine, grammar: Any, bytes_: ByteTokens) -> None:
        from llama_cpp._internals import LlamaTokenDataArray

        lib = engine._llama_cpp
        self._lib = lib
        self._np = engine._np
        self._llama = engine.llama
        self._bytes = bytes_
        self._sampler = grammar_sampler(engine, grammar)
        self._data = LlamaTokenDataArray(n_vocab=len(bytes_.ids))

    def after(self, token: int | None) -> list[int]:
        """Accept `token` (None: at the start), then the forced tokens that follow it,
        already accepted here; the caller makes its own sampler accept them too."""
        lib = self._lib
        if token is not None:
            lib.llama_sampler_accept(self._sampler, token)
        first = self._only_byte(self._sampler)  # applying the grammar changes nothing
        if first is None:  # most positions allow many bytes: no copy of the grammar
            return []
        walk = lib.llama_sampler_clone(self._sampler)  # the walk may go further than kept
        try:
            forced = bytearray()
            only: int | None = first
            while only is not None and len(forced) < MAX_FORCED_CHARS:
                forced.append(self._bytes.values[only])
                lib.llama_sampler_accept(walk, int(self._bytes.ids[only]))
                only = self._only_byte(walk)
        finally:
            lib.llama_sampler_free(walk)
        # The forced text's last token is left to the model: the token it would write
        # there may run on past the forced text ("}." after a forced "zone}", where a
        # forced "}" made the model go on with " and" instead of "."; " The" after
        # "Answer:", where a forced "Answer: " would leave "The" without its space).
        # The grammar still allows only what begins with the forced characters.
        text = bytes(forced).rstrip(b" ")
        tokens = list(self._llama.tokenize(text, add_bos=False, special=False))[:-1]
        # A tokenizer that adds a leading space (SentencePiece's add_space_prefix)
        # spells other text than was forced; the grammar would refuse it, and llama.cpp
        # aborts on a refused token: force nothing then.
        if not text.startswith(self._llama.detokenize(tokens)):
            return []
        for forced_token in tokens:
            lib.llama_sampler_accept(self._sampler, forced_token)
        return tokens

    def _only_byte(self, sampler: Any) -> int | None:
        """The index of the one ASCII byte the grammar allows next, if it allows
        exactly one and not the end; else None."""
        data = self._data
        rows = data.candidates_data
        rows.id[:] = self._bytes.ids
        rows.logit[:] = 0.0
        rows.p[:] = 0.0
        data.candidates.size = len(rows)
        data.candidates.selected = -1
        data.candidates.sorted = False
        self._lib.llama_sampler_apply(sampler, ctypes.byref(data.candidates))
        allowed = self._np.flatnonzero(self._np.isfinite(rows.logit[: data.candidates.size]))
        if len(allowed) != 1:
            return None
        index = int(allowed[0])  # the grammar marks refused rows in place, in order
        return index if 0 <= self._bytes.values[index] < 0x80 else None

    def close(self) -> None:
        if self._sampler:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None


def forces(engine: _Engine, grammar: Any) -> bool:
    """Whether a generation under `grammar` takes forced text in batches: not without a
    grammar, when switched off, or for a vocabulary without every byte."""
    if grammar is None or not engine.jump_forward:
        return False
    first = engine.first  # a twin shares the model's vocabulary with its engine
    if first.byte_tokens is None:
        first.byte_tokens = ByteTokens(first)
    return first.byte_tokens.complete


def forced_text(engine: _Engine, grammar: Any) -> ForcedText:
    """The `ForcedText` of a generation `forces` said yes to."""
    assert engine.first.byte_tokens is not None
    return ForcedText(engine, grammar, engine.first.byte_tokens)
