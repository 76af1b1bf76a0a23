from __future__ import annotations

import json
from typing import Any

import pytest

from veritask.config import ModelEntry, Settings
from veritask.errors import ConfigError, ModelError
from veritask.models import BreakerPolicy, RetryPolicy, Router, system, user
from veritask.models.anthropic_provider import AnthropicProvider
from veritask.models.prices import DEFAULT_PRICES

from ._http import Request, Response, connect_error, mock_client

MODEL = "claude-haiku-4-5"


def message(text: str, *, stop: str = "end_turn", tokens: tuple[int, int] = (12, 3)) -> Response:
    body = {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": tokens[0],
            "output_tokens": tokens[1],
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    return Response(200, json=body, headers={"request-id": "req_1"})


def error(status: int, kind: str, text: str, **headers: str) -> Response:
    body = {"type": "error", "error": {"type": kind, "message": text}}
    return Response(status, json=body, headers=headers)


class Server:
    """Replays responses and keeps the requests it saw."""

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


def provider(server: Server, **kw: Any) -> AnthropicProvider:
    return AnthropicProvider(MODEL, api_key="sk-ant-test", http_client=mock_client(server), **kw)


async def test_completes_and_costs_a_call() -> None:
    server = Server(message("Paris"))
    out = await provider(server).acomplete(
        [system("Answer in one word."), user("Capital of France?")], max_tokens=20
    )
    assert out.text == "Paris" and out.model == f"anthropic:{MODEL}"
    assert (out.usage.input_tokens, out.usage.output_tokens, out.usage.model_calls) == (12, 3, 1)
    assert out.usage.cost_usd == pytest.approx(DEFAULT_PRICES[MODEL].cost(12, 3))
    assert out.usage.cost_usd > 0 and out.latency_s >= 0
    body = server.body()
    assert body["system"] == "Answer in one word."
    assert body["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert (body["model"], body["max_tokens"]) == (MODEL, 20)
    headers = server.requests[0].headers
    assert "sk-ant-test" in headers.get("x-api-key", "") + headers.get("authorization", "")
    assert server.requests[0].url.path == "/v1/messages"


async def test_structured_output_sends_the_schema_and_parses() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    server = Server(message('{"city": "Paris"}'))
    out = await provider(server).acomplete([user("?")], json_schema=schema)
    assert out.parsed == {"city": "Paris"}
    assert server.body()["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


async def test_truncated_json_is_a_model_error_that_says_why() -> None:
    server = Server(message('{"city": "Par', stop="max_tokens"))
    with pytest.raises(ModelError, match="max_tokens") as info:
        await provider(server).acomplete([user("?")], json_schema={"type": "object"})
    assert not info.value.retryable


async def test_429_is_retryable_and_carries_retry_after() -> None:
    server = Server(
        error(429, "rate_limit_error", "Number of requests exceeded", **{"retry-after": "7"})
    )
    with pytest.raises(ModelError, match="429") as info:
        await provider(server).acomplete([user("?")])
    assert info.value.retryable and info.value.retry_after_s == 7.0
    assert isinstance(info.value.__cause__, Exception)  # raised `from` the SDK error
    assert len(server.requests) == 1  # the SDK does not retry on its own


async def test_529_overloaded_is_retryable() -> None:
    server = Server(error(529, "overloaded_error", "Overloaded"))
    with pytest.raises(ModelError, match="overloaded") as info:
        await provider(server).acomplete([user("?")])
    assert info.value.retryable


@pytest.mark.parametrize("status", [400, 401, 404])
async def test_client_errors_are_not_retryable(status: int) -> None:
    server = Server(error(status, "invalid_request_error", "nope"))
    with pytest.raises(ModelError, match=str(status)) as info:
        await provider(server).acomplete([user("?")])
    assert not info.value.retryable


async def test_connection_errors_are_retryable() -> None:
    server = Server()
    server.responses.append(connect_error(Request("POST", "https://api.anthropic.com")))
    with pytest.raises(ModelError, match="cannot connect") as info:
        await provider(server).acomplete([user("?")])
    assert info.value.retryable


async def test_a_grammar_is_refused() -> None:
    with pytest.raises(ModelError, match="grammar"):
        await provider(Server()).acomplete([user("?")], grammar='root ::= "a"')


async def test_n_samples_are_separate_requests() -> None:
    server = Server(message("a", tokens=(10, 1)), message("b", tokens=(10, 1)))
    out = await provider(server).acomplete([user("?")], n=2, temperature=0.8)
    assert sorted(out.texts) == ["a", "b"] and out.usage.output_tokens == 2
    assert len(server.requests) == 2


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="set ANTHROPIC_API_KEY"):
        AnthropicProvider(MODEL)
    settings = Settings(models={f"anthropic:{MODEL}": ModelEntry(api_key_env="MY_CLAUDE_KEY")})
    monkeypatch.delenv("MY_CLAUDE_KEY", raising=False)
    with pytest.raises(ConfigError, match="set MY_CLAUDE_KEY"):
        AnthropicProvider(MODEL, settings=settings)
    monkeypatch.setenv("MY_CLAUDE_KEY", "k")
    assert AnthropicProvider(MODEL, settings=settings).api_key == "k"


async def test_router_retries_a_429_after_its_retry_after_then_succeeds() -> None:
    server = Server(
        error(429, "rate_limit_error", "slow down", **{"retry-after": "2"}),
        error(529, "overloaded_error", "Overloaded"),
        message("fine"),
    )
    delays: list[float] = []

    async def sleep(d: float) -> None:
        delays.append(d)

    name = f"anthropic:{MODEL}"
    router = Router(
        Settings(model=name),
        providers={name: provider(server)},
        retry=RetryPolicy(max_attempts=3),
        breaker=BreakerPolicy(failures=5),
        sleep=sleep,
        rand=lambda: 0.0,
    )
    out = await router.acomplete("synthesize", [user("?")])
    assert out.text == "fine" and len(server.requests) == 3
    assert delays[0] == 2.0 and len(delays) == 2


async def test_requests_adapt_to_the_installed_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    from veritask.models import anthropic_provider

    real = anthropic_provider._sdk_parameters()
    schema = {"type": "object"}
    server = Server(message("{}"), message("{}"))
    await provider(server).acomplete([user("?")], json_schema=schema, temperature=0.4)
    assert ("temperature" in server.body()) is ("temperature" in real)
    # an SDK older than structured outputs: the same body, through extra_body
    monkeypatch.setattr(anthropic_provider, "_sdk_parameters", lambda: real - {"output_config"})
    await provider(server).acomplete([user("?")], json_schema=schema)
    assert server.body()["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
