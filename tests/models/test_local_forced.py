"""Text the grammar forces is read in one batch (`_llama_forced`), on the real model.

What a user relies on: a constrained sample still obeys its grammar and its
token limit, the forced text is exactly what the grammar leaves no choice
about (never a character the model could have chosen otherwise, never the
end where the text may stop), and the model is run fewer times for the same
kind of plan. Invented domain: an apiary's plan language. Nothing here is
about time.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from veritask.models._llama_forced import ByteTokens, ForcedText, forced_text, forces
from veritask.models.local import _Engine, _grammar_from_gbnf

pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.integration

PLAN_GRAMMAR = r"""root ::= "1. " tool "(\"" hive "\")\nAnswer: " words "{$1." field "}.\n"
words ::= [A-Za-z ]{1,30}
tool ::= "hive_inspection" | "hive_harvest" | "queen_record"
hive ::= "Clover Ridge" | "Heather Bank" | "Hawthorn"
field ::= "honey_kg" | "frames" | "temper"
"""
PLAN_SHAPE = re.compile(
    r'^1\. (hive_inspection|hive_harvest|queen_record)\("(Clover Ridge|Heather Bank|Hawthorn)"\)\n'
    r"Answer: [A-Za-z ]{1,30}\{\$1\.(honey_kg|frames|temper)\}\.\n$"
)
MESSAGES = [
    {
        "role": "system",
        "content": "You write plans for questions about our apiary. Tools: "
        "hive_inspection(hive) returns frames and temper; hive_harvest(hive) returns "
        "honey_kg; queen_record(hive) returns the queen's age.",
    },
    {"role": "user", "content": "How much honey did the Heather Bank hive give?"},
]


def walker(engine: _Engine, gbnf: str) -> ForcedText:
    grammar = _grammar_from_gbnf(gbnf)
    assert forces(engine, grammar)  # SmolLM2 has a token for every byte of text
    return forced_text(engine, grammar)


def byte_token(engine: _Engine, char: str) -> int:
    bytes_ = engine.first.byte_tokens
    assert isinstance(bytes_, ByteTokens)
    return int(bytes_.ids[bytes_.values.index(ord(char))])


def text(engine: _Engine, tokens: list[int]) -> str:
    return bytes(engine.llama.detokenize(tokens)).decode()


def write(engine: _Engine, walk: ForcedText, chars: str) -> None:
    """The model writes `chars`, one byte token each, less what the walk forces on the way."""
    while chars:
        taken = text(engine, walk.after(byte_token(engine, chars[0])))
        assert chars[1:].startswith(taken)
        chars = chars[1 + len(taken) :]


def forced(engine: _Engine, walk: ForcedText, char: str | None, whole: str) -> None:
    """After `char`, the grammar forces `whole`: all its tokens but the last are taken
    (the last is the model's: it may run on past `whole`), none when it is one token.
    The model then writes the rest of `whole`."""
    tokens = walk.after(None if char is None else byte_token(engine, char))
    assert tokens == engine.llama.tokenize(whole.encode(), add_bos=False, special=False)[:-1]
    taken = text(engine, tokens)
    assert whole.startswith(taken) and len(taken) < len(whole)
    write(engine, walk, whole[len(taken) :])


def test_the_forced_text_is_what_the_grammar_leaves_no_choice_about(engine: _Engine) -> None:
    walk = walker(engine, PLAN_GRAMMAR)
    try:
        # At the start "1." is forced; its trailing space is left to the model's
        # next word, whose token carries it.
        forced(engine, walk, None, "1.")
        # Three tools: after " " nothing is forced ("hive_" is shared by two, not
        # by queen_record).
        assert walk.after(byte_token(engine, " ")) == []
        # "h" leaves "hive_" forced, then a choice between inspection and harvest.
        forced(engine, walk, "h", "ive_")
        # "h" again: harvest, its call and the opening quote are forced; the hive
        # name is a choice ("Heather Bank" or "Hawthorn" after "H").
        forced(engine, walk, "h", 'arvest("')
        assert walk.after(byte_token(engine, "H")) == []
        # "He": only Heather Bank, its closing, the next line and "Answer:" remain,
        # taken in one piece.
        forced(engine, walk, "e", 'ather Bank")\nAnswer:')
    finally:
        walk.close()


def test_nothing_is_forced_where_the_text_may_end(engine: _Engine) -> None:
    walk = walker(engine, 'root ::= "swarm" ("ing" | "ed")?\n')
    try:
        forced(engine, walk, None, "swarm")  # then the end, "ing" or "ed"
        assert walk.after(byte_token(engine, "e")) == []  # "d": one token, the model's
        assert walk.after(byte_token(engine, "d")) == []  # only the end is left
    finally:
        walk.close()


def draw(engine: _Engine, *, seed: int, temperature: float, max_tokens: int = 80) -> Any:
    tokens = engine.prompt_tokens(MESSAGES)
    return engine.sample(
        tokens,
        grammar=_grammar_from_gbnf(PLAN_GRAMMAR),
        max_tokens=max_tokens,
        temperature=temperature,
        logprobs=False,
        seed=seed,
        cancel=threading.Event(),
        prefix=engine.fixed_prefix(MESSAGES, tokens),
    )


def model_runs(engine: _Engine, monkeypatch: pytest.MonkeyPatch, *, jump: bool) -> list[Any]:
    """Samples at three temperatures and seeds, and how many times the model ran for them."""
    engine.jump_forward = jump
    engine.replay = False
    engine.llama.reset()
    calls: list[int] = []
    original = engine.llama.eval

    def counted(tokens: Any) -> None:
        calls.append(len(tokens))
        original(tokens)

    monkeypatch.setattr(engine.llama, "eval", counted)
    try:
        out = [draw(engine, seed=s, temperature=t) for t, s in ((0.0, 1), (0.7, 2), (0.7, 3))]
    finally:
        monkeypatch.undo()
        engine.replay = True
    return [out, len(calls)]


def test_samples_obey_the_grammar_and_run_the_model_fewer_times(
    engine: _Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, plain_runs = model_runs(engine, monkeypatch, jump=False)
    jumped, jumped_runs = model_runs(engine, monkeypatch, jump=True)
    for sample in [*plain, *jumped]:
        assert PLAN_SHAPE.match(sample.choice.text), sample.choice.text
    # "1.", the tool's tail, the hive's tail, "Answer:", "{$1." and the field's
    # tail are forced: fewer model runs for plans of the same shape.
    assert jumped_runs < plain_runs * 0.8


def test_forced_text_never_passes_the_token_limit(engine: _Engine) -> None:
    engine.jump_forward = True
    for limit in (1, 2, 5):
        sample = draw(engine, seed=4, temperature=0.0, max_tokens=limit)
        assert sample.output_tokens <= limit
        assert sample.choice.finish_reason == "length"


def test_a_sample_follows_only_a_record_that_forced_as_it_does(engine: _Engine) -> None:
    """Forcing tokenizes forced text its own way, so a sample that forces cannot follow
    the recorded path of one that did not (nor the other way round): it draws what a
    run with nothing to follow draws."""
    fresh = {}
    for jump in (False, True):
        engine.jump_forward, engine.replay = jump, False
        engine.llama.reset()
        fresh[jump] = draw(engine, seed=7, temperature=0.7).choice.text
    engine.replay = True
    try:
        for before, after in ((True, False), (False, True)):
            engine.llama.reset()
            engine.jump_forward = before
            draw(engine, seed=7, temperature=0.0)  # leaves a record of its path
            engine.jump_forward = after
            replayed = engine.replayed
            assert draw(engine, seed=7, temperature=0.7).choice.text == fresh[after]
            assert engine.replayed == replayed  # nothing was taken from the record
    finally:
        engine.jump_forward = True
