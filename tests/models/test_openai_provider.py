"""OpenAI provider against a mock transport: request shapes, mapping, errors.

The full path against a real server is in test_openai_server.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from veritask.config import ModelEntry, Settings
from veritask.errors import ConfigError, ModelError
from veritask.models import user
from veritask.models.openai_provider import OpenAIProvider

from ._http import Request, Response, connect_error, mock_client


def chat(*texts: str, logprobs: list[tuple[str, float]] | None = None) -> Response:
    choices = []
    for i, text in enumerate(texts):
        choice: dict[str, Any] = {
            "index": i,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
            "logprobs": None,
        }
        if logprobs is not None:
            choice["logprobs"] = {
                "content": [
                    {"token": t, "logprob": lp, "bytes": list(t.encode()), "top_logprobs": []}
                    for t, lp in logprobs
                ]
            }
        choices.append(choice)
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": choices,
        "usage": {"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24},
    }
    return Response(200, json=body)


class Server:
    def __init__(self, *responses: Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def body(self, i: int = -1) -> dict[str, Any]:
        return json.loads(self.requests[i].content)


def provider(server: Server, **kw: Any) -> OpenAIProvider:
    kw.setdefault("api_key", "sk-test")
    return OpenAIProvider("gpt-4o-mini", http_client=mock_client(server), **kw)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def test_maps_text_usage_cost_and_logprobs() -> None:
    server = Server(chat("Paris", logprobs=[("Par", -0.1), ("is", -0.2)]))
    out = await provider(server).acomplete([user("Capital?")], max_tokens=5, logprobs=True)
    assert out.text == "Paris" and out.model == "openai:gpt-4o-mini"
    assert (out.usage.input_tokens, out.usage.output_tokens) == (20, 4)
    assert out.usage.cost_usd == pytest.approx((20 * 0.15 + 4 * 0.60) / 1e6)
    assert out.token_logprobs is not None
    assert [(t.token, t.offset) for t in out.token_logprobs] == [("Par", 0), ("is", 3)]
    body = server.body()
    assert body["max_completion_tokens"] == 5 and body["logprobs"] is True
    assert server.requests[0].headers["authorization"] == "Bearer sk-test"


async def test_custom_endpoints_get_max_tokens_and_grammar() -> None:
    server = Server(chat("yes"))
    p = provider(server, base_url="http://127.0.0.1:9/v1")
    await p.acomplete([user("?")], max_tokens=3, grammar='root ::= "yes" | "no"')
    body = server.body()
    assert body["max_tokens"] == 3 and body["grammar"] == 'root ::= "yes" | "no"'
    assert str(server.requests[0].url).startswith("http://127.0.0.1:9/v1/chat/completions")


async def test_reasoning_models_get_no_temperature() -> None:
    server = Server(chat("x"))
    p = OpenAIProvider("o4-mini", api_key="k", http_client=mock_client(server))
    await p.acomplete([user("?")], temperature=0.5)
    assert "temperature" not in server.body()


async def test_json_schema_falls_back_to_json_object_and_remembers() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    rejected = Response(422, json={"detail": "response_format.type: Input should be 'text'"})
    server = Server(rejected, chat('{"n": 1}'), chat('{"n": 2}'))
    p = provider(server, base_url="http://127.0.0.1:9/v1")
    assert (await p.acomplete([user("?")], json_schema=schema)).parsed == {"n": 1}
    assert (await p.acomplete([user("?")], json_schema=schema)).parsed == {"n": 2}
    formats = [server.body(i)["response_format"] for i in range(3)]
    assert formats[0]["type"] == "json_schema" and formats[0]["json_schema"]["schema"] == schema
    assert formats[1] == formats[2] == {"type": "json_object", "schema": schema}


async def test_a_pinned_json_schema_format_does_not_fall_back() -> None:
    settings = Settings(models={"openai:gpt-4o-mini": ModelEntry(response_format="json_schema")})
    server = Server(Response(400, json={"error": {"message": "bad schema"}}))
    with pytest.raises(ModelError, match="bad schema"):
        await provider(server, settings=settings).acomplete([user("?")], json_schema={})
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "retryable"), [(429, True), (500, True), (503, True), (401, False), (404, False)]
)
async def test_http_errors_map_to_model_errors(status: int, retryable: bool) -> None:
    body = {"error": {"message": f"status {status}", "type": "x"}}
    server = Server(Response(status, json=body, headers={"retry-after": "3"}))
    with pytest.raises(ModelError, match=f"HTTP {status}") as info:
        await provider(server).acomplete([user("?")])
    assert info.value.retryable is retryable
    assert info.value.provider == "openai:gpt-4o-mini"
    assert len(server.requests) == 1


async def test_connection_refused_is_retryable_and_names_the_endpoint() -> None:
    server = Server(connect_error(Request("POST", "http://127.0.0.1:9/v1")))
    p = provider(server, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ModelError, match=r"cannot connect to http://127.0.0.1:9/v1") as info:
        await p.acomplete([user("?")])
    assert info.value.retryable


def test_key_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="set OPENAI_API_KEY"):
        OpenAIProvider("gpt-4o-mini")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    local = OpenAIProvider("llama3.2")
    assert local.base_url == "http://127.0.0.1:11434/v1" and local.api_key == "not-needed"
    settings = Settings(
        models={"openai:x": ModelEntry(base_url="http://h/v1", api_key_env="X_KEY")}
    )
    monkeypatch.delenv("X_KEY", raising=False)
    with pytest.raises(ConfigError, match="set X_KEY"):
        OpenAIProvider("x", settings=settings)
    monkeypatch.setenv("X_KEY", "secret")
    configured = OpenAIProvider("x", settings=settings)
    assert (configured.base_url, configured.api_key) == ("http://h/v1", "secret")
