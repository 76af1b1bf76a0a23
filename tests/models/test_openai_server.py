"""The OpenAI provider, end to end, against a real `llama_cpp.server` on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from veritask.config import ModelEntry, Settings
from veritask.errors import ModelError
from veritask.models import LangChainModel, Router, get_provider, user
from veritask.models.cli import register
from veritask.models.openai_provider import OpenAIProvider

from ._http import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def provider(llama_server: str, monkeypatch: pytest.MonkeyPatch) -> OpenAIProvider:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", llama_server)
    p = get_provider("openai:smollm2")
    assert isinstance(p, OpenAIProvider)
    return p


async def test_chat_completion(provider: OpenAIProvider) -> None:
    out = await provider.acomplete(
        [user("Which city is the capital of France? Answer in English.")], max_tokens=20
    )
    assert "paris" in out.text.lower()
    assert out.usage.input_tokens > 5 and 0 < out.usage.output_tokens <= 20
    assert out.usage.cost_usd == 0  # unknown model: no price


async def test_structured_output_end_to_end(provider: OpenAIProvider) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
    }
    out = await provider.acomplete(
        [user("Name a city and its country as JSON.")], json_schema=schema, max_tokens=60
    )
    assert isinstance(out.parsed, dict) and set(out.parsed) == {"city", "country"}


async def test_grammar_end_to_end(provider: OpenAIProvider) -> None:
    out = await provider.acomplete(
        [user("Is the sky blue? Answer yes or no.")], grammar='root ::= "yes" | "no"'
    )
    assert out.text in {"yes", "no"}


async def test_through_the_router_with_per_model_config(llama_server: str) -> None:
    settings = Settings(
        model="openai:smollm2",
        routes={"extract": ["openai:dead", "openai:smollm2"]},
        models={
            "openai:smollm2": ModelEntry(base_url=llama_server, max_tokens=6),
            "openai:dead": ModelEntry(base_url=f"http://127.0.0.1:{free_port()}/v1"),
        },
    )
    delays: list[float] = []

    async def sleep(d: float) -> None:
        delays.append(d)

    router = Router(settings, sleep=sleep)
    out = await router.acomplete("extract", [user("Say hello.")], max_tokens=50)
    assert out.model == "openai:smollm2" and 0 < out.usage.output_tokens <= 6
    assert len(delays) == 2  # the dead endpoint was retried, then skipped


async def test_an_unknown_route_on_the_server_is_not_retryable(llama_server: str) -> None:
    p = OpenAIProvider("smollm2", base_url=llama_server.removesuffix("/v1") + "/nope")
    with pytest.raises(ModelError) as info:
        await p.acomplete([user("hi")], max_tokens=2)
    assert not info.value.retryable and "404" in str(info.value)


async def test_langchain_chat_openai_against_the_server(llama_server: str) -> None:
    """The LangChain adapter around a real ChatOpenAI (optional: needs langchain-openai)."""
    langchain_openai = pytest.importorskip("langchain_openai")
    chat = langchain_openai.ChatOpenAI(
        model="smollm2", base_url=llama_server, api_key="not-needed", max_retries=0
    )
    model = LangChainModel(chat)
    assert model.name == "langchain:smollm2"
    out = await model.acomplete(
        [user("Which city is the capital of France? Answer in English.")], max_tokens=12
    )
    # usage as the server reported it (ChatOpenAI sends max_completion_tokens,
    # which llama_cpp.server ignores, so the cap is not checked here)
    assert out.text and out.usage.input_tokens > 5 and out.usage.output_tokens > 0


def test_cli_check_against_the_server_and_the_embedded_model(
    llama_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "veritask.toml").write_text(
        'routes = { plan = ["openai:smollm2"] }\n'
        f'[models."openai:smollm2"]\nbase_url = "{llama_server}"\n'
    )
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    result = CliRunner().invoke(app, ["models", "--check", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["name"], r["provider"], r["ok"]) for r in rows] == [
        ("local:smollm2-135m", "local", True),
        ("openai:smollm2", "openai", True),
    ]
    assert all(r["output_tokens"] > 0 and r["error"] is None for r in rows)
