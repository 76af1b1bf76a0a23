"""The engine's own token loop gives what llama.cpp's chain gives, with less work.

A later sample of the same prompt and grammar follows the previous one's
recorded path, and a greedy sample asks the grammar about its likeliest
token first. Each test draws the same seeds with the shortcut off and on, on
the real embedded model, and compares the texts (a shortcut must draw the
sample the plain loop draws) and the engine's counts; none is about time.
"""

from __future__ import annotations

import threading

import pytest

from veritask.models.local import _Engine, _grammar_from_gbnf

PLAN = [
    {
        "role": "system",
        "content": "You write plans: numbered tool calls, then an Answer line. Tools: "
        "country_facts(country) returns population and area_km2; calc(expression).",
    },
    {"role": "user", "content": "What is the combined population of France and Spain?"},
]
OTHER = [{"role": "user", "content": "Write a haiku about rain."}]
GRAMMAR = r"""root ::= step step step answer
step ::= [1-3] ". " call "\n"
call ::= "country_facts(" name ")" | "calc(\"" expr "\")"
name ::= "\"France\"" | "\"Spain\""
expr ::= "$" [1-2] ".population " [+/-] " $" [1-2] ".population"
answer ::= "Answer: " [A-Za-z {}$.0-9]{1,60}
"""
SEEDS = [(0.0, 11), (0.7, 12), (0.7, 13), (1.5, 14), (0.7, 15)]


def draw(
    engine: _Engine,
    messages: list[dict[str, str]],
    temperature: float,
    seed: int,
    grammar: str | None = GRAMMAR,
) -> str:
    tokens = engine.prompt_tokens(messages)
    sample = engine.sample(
        tokens,
        grammar=_grammar_from_gbnf(grammar) if grammar is not None else None,
        max_tokens=80,
        temperature=temperature,
        logprobs=False,
        seed=seed,
        cancel=threading.Event(),
        prefix=engine.fixed_prefix(messages, tokens),
    )
    return sample.choice.text


def samples(engine: _Engine, *, replay: bool, between: bool = False) -> list[str]:
    engine.replay = replay
    engine.record = None
    engine.llama.reset()
    out = []
    for temperature, seed in SEEDS:
        out.append(draw(engine, PLAN, temperature, seed))
        if between:  # another prompt runs between two samples of the plan
            draw(engine, OTHER, 0.0, 1)
    return out


@pytest.mark.integration
def test_replayed_samples_are_the_samples_a_plain_run_draws(engine: _Engine) -> None:
    plain = samples(engine, replay=False)
    before = engine.replayed
    replayed = samples(engine, replay=True)
    assert replayed == plain
    assert engine.replayed - before > 0  # later samples took tokens from a record
    assert plain[0].startswith("1. ")


@pytest.mark.integration
def test_a_prompt_in_between_ends_the_replay_without_changing_a_sample(engine: _Engine) -> None:
    plain = samples(engine, replay=False)
    before = engine.replayed
    assert samples(engine, replay=True, between=True) == plain
    assert engine.replayed == before  # the cache held another prompt: nothing to follow


# A grammar that refuses what the model would say first at most positions.
ODD = r"""root ::= "Plan: " word (" " word){3,8}
word ::= "zebra" | "quartz" | "France" | "Spain" | [0-9]{1,3}
"""
QUESTIONS = [
    "What is the combined population of France and Spain?",
    "How far apart are Lima and Quito?",
    "Which is larger, Chile or Peru?",
]


@pytest.mark.integration
@pytest.mark.parametrize("grammar", [GRAMMAR, ODD, None])
def test_a_greedy_sample_is_the_one_llama_cpps_chain_picks(
    engine: _Engine, grammar: str | None
) -> None:
    engine.replay = False
    texts = {}
    for fast in (False, True):
        engine.fast_greedy = fast
        engine.llama.reset()
        texts[fast] = [
            draw(engine, [PLAN[0], {"role": "user", "content": q}], 0.0, 1, grammar)
            for q in QUESTIONS
        ]
    assert texts[True] == texts[False]
    assert all(texts[True])


@pytest.mark.integration
@pytest.mark.parametrize("grammar", [GRAMMAR, ODD, None])
def test_a_temperature_sample_asks_few_tokens_and_draws_what_the_whole_vocabulary_gives(
    engine: _Engine, grammar: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window walk (a few of the highest logits) and the whole-vocabulary
    check draw the same tokens for the same seeds; and every draw obeys the grammar."""
    from veritask.models import _llama_decode

    engine.replay = False
    texts = {}
    original = _llama_decode._TemperatureChooser.__init__
    for candidates in (64, 1):  # 1: the window never closes within the walk

        def init(self: object, *a: object, _n: int = candidates, **kw: object) -> None:
            original(self, *a, **kw)  # type: ignore[arg-type]
            self.candidates = _n  # type: ignore[attr-defined]

        monkeypatch.setattr(_llama_decode._TemperatureChooser, "__init__", init)
        engine.llama.reset()
        texts[candidates] = [
            draw(engine, [PLAN[0], {"role": "user", "content": q}], temperature, seed, grammar)
            for q in QUESTIONS
            for temperature, seed in SEEDS
            if temperature > 0
        ]
    assert texts[64] == texts[1]
    assert len(set(texts[64])) > 1  # the seeds draw different samples
    if grammar == ODD:
        assert all(t.startswith("Plan: ") for t in texts[64])
