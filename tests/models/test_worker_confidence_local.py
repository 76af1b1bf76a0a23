"""Worker confidence on the embedded model: probabilities over what the grammar allows."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from veritask.config import Settings
from veritask.models import Router, user, workers
from veritask.models.local import LocalProvider
from veritask.models.workers import WORKERS, Effort, bind_router, unbind_router

pytestmark = pytest.mark.integration

LOCAL = "local:smollm2-135m"


@pytest.fixture(scope="module")
def local(gguf_path: Path) -> LocalProvider:
    return LocalProvider(seed=7)


@pytest.fixture
def router(local: LocalProvider, monkeypatch: pytest.MonkeyPatch) -> Iterator[Router]:
    # What is tested is the confidence, not the speed of a machine shared with other work.
    monkeypatch.setattr(workers, "WORKER_TIMEOUT_S", 900.0)
    router = Router(Settings(model=LOCAL), {LOCAL: local})
    token = bind_router(router)
    try:
        yield router
    finally:
        unbind_router(token)


async def test_logprobs_under_a_grammar_are_over_the_allowed_tokens(local: LocalProvider) -> None:
    ask = [user("Is the sky blue? Answer yes or no.")]
    grammar = 'root ::= "yes" | "no" | "maybe"\n'
    out = await local.acomplete(ask, grammar=grammar, n=6, temperature=1.0, logprobs=True)
    seen: dict[str, float] = {}
    for choice in out.choices:
        allowed, end = choice.grammar_logprobs, choice.end_logprob
        assert allowed is not None and end is not None and choice.token_logprobs
        assert len(allowed) == len(choice.token_logprobs)
        assert end > math.log(0.99)  # the grammar all but forces the stop
        # Among the allowed tokens a token is at least as likely as among all of them.
        pairs = zip(allowed, choice.token_logprobs, strict=True)
        assert all(a >= t.logprob - 1e-6 for a, t in pairs)
        seen[choice.text] = math.exp(sum(allowed) + end)
    # The outputs' probabilities are a distribution over the three words, not a sliver of
    # the vocabulary: whatever was drawn sums to at most 1.
    assert sum(seen.values()) <= 1.0 + 1e-6
    free = await local.acomplete(ask, max_tokens=4, logprobs=True)
    assert free.choices[0].grammar_logprobs is None and free.choices[0].end_logprob is None


async def test_an_easy_extraction_is_confident_and_an_ambiguous_one_is_not(router: Router) -> None:
    easy = await WORKERS["llm.extract"](
        {"text": "Her manager is called Lena Fischer.", "what": "the manager's name"}, Effort(), ()
    )
    assert easy.value == "Lena Fischer"
    assert easy.confidence is not None and easy.confidence.score >= 0.8
    assert easy.confidence.signals["estimator"] == "answer_probability"
    torn = await WORKERS["llm.extract"](
        {
            "text": "The old office was in Porto; since March the team works from Braga, "
            "near the Porto road.",
            "what": "the city the team works from now",
        },
        Effort(),
        (),
    )
    assert torn.confidence is not None and torn.confidence.score < 0.7
