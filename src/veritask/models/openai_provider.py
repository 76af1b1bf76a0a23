"""`openai:MODEL` — the OpenAI API or any OpenAI-compatible server.

Works with api.openai.com and with servers that speak its chat API: Ollama,
vLLM, LM Studio, `python -m llama_cpp.server`. Endpoint and key come from, in
order: constructor arguments, ``[models."openai:MODEL"]`` (`base_url`,
`api_key_env`) in veritask.toml, then ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``.

A custom endpoint without a key gets a placeholder key, because local servers
ignore it but the SDK insists on one. The SDK's own retries are switched off:
the `Router` retries, so that budgets and the injected clock see every attempt.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from veritask.config import Settings
from veritask.errors import ConfigError, ModelError
from veritask.models._clients import LoopClients
from veritask.models._errors import connection_error, status_error, timeout_error
from veritask.models.base import (
    Choice,
    Completion,
    Message,
    SyncMixin,
    TokenLogprob,
    check_request,
    estimate_tokens,
    offsets_for,
    parse_json,
)
from veritask.models.prices import cost_usd, model_entry
from veritask.types import Usage

if TYPE_CHECKING:
    import openai

DEFAULT_TIMEOUT_S = 60.0
_NO_TEMPERATURE_PREFIXES = ("o1", "o3", "o4", "gpt-5")


class OpenAIProvider(SyncMixin):
    """Chat completions through the official `openai` SDK.

    Structured output uses ``response_format`` of type ``json_schema``. When a
    server rejects that with 400/422 and the model entry does not pin a
    format, the provider retries once with llama-cpp-python's
    ``{"type": "json_object", "schema": ...}`` and remembers what worked
    (llama-cpp-python's server reports that rejection as a 500 naming the field).
    A GBNF `grammar` is sent as the ``grammar`` body field (llama.cpp servers).
    """

    def __init__(
        self,
        model: str,
        *,
        settings: Settings | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float | None = None,
        client: openai.AsyncOpenAI | None = None,
        http_client: Any = None,
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.settings = settings
        entry = model_entry(self.name, settings)
        self.base_url = base_url or entry.base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.timeout_s = timeout_s or entry.timeout_s or DEFAULT_TIMEOUT_S
        self.api_key = api_key or self._api_key(entry.api_key_env)
        self._response_format = entry.response_format
        self._http_client = http_client
        self._clients: LoopClients[openai.AsyncOpenAI] = LoopClients(
            self._make_client, given=client, owns_connections=http_client is None
        )

    def _api_key(self, key_env: str | None) -> str:
        var = key_env or "OPENAI_API_KEY"
        value = os.environ.get(var)
        if value:
            return value
        if key_env or not self.base_url:
            raise ConfigError(
                f"{self.name} needs an API key: set {var} in the environment, "
                f"or point it at a local server with OPENAI_BASE_URL / "
                f'[models."{self.name}"] base_url'
            )
        return "not-needed"  # local servers ignore the key, the SDK requires one

    def _make_client(self) -> openai.AsyncOpenAI:
        import openai

        return openai.AsyncOpenAI(
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=self.timeout_s,
            max_retries=0,
            http_client=self._http_client,
        )

    def _get_client(self) -> openai.AsyncOpenAI:
        return self._clients.get()

    async def aclose(self) -> None:
        """Close the connections this provider opened on the running loop (see LoopClients)."""
        await self._clients.aclose()

    async def acomplete(
        self,
        messages: Sequence[Message],
        *,
        json_schema: Mapping[str, Any] | None = None,
        grammar: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        n: int = 1,
        logprobs: bool = False,
    ) -> Completion:
        msgs = check_request(
            messages, max_tokens=max_tokens, n=n, temperature=temperature, provider=self.name
        )
        request = self._request(msgs, max_tokens, temperature, n, logprobs, grammar)
        started = time.perf_counter()
        if json_schema is None:
            response = await self._send(request)
        else:
            response = await self._send_structured(request, dict(json_schema))
        latency = time.perf_counter() - started
        return self._completion(response, msgs, structured=json_schema is not None, latency=latency)

    def _request(
        self,
        msgs: list[dict[str, str]],
        max_tokens: int,
        temperature: float,
        n: int,
        logprobs: bool,
        grammar: str | None,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model, "messages": msgs, "n": n}
        # api.openai.com's newer models only take max_completion_tokens; the
        # compatible servers reliably take max_tokens.
        request["max_completion_tokens" if self.base_url is None else "max_tokens"] = max_tokens
        if not self.model.startswith(_NO_TEMPERATURE_PREFIXES):
            request["temperature"] = temperature
        if logprobs:
            request["logprobs"] = True
        if grammar is not None:
            request["extra_body"] = {"grammar": grammar}
        return request

    async def _send_structured(self, request: dict[str, Any], schema: dict[str, Any]) -> Any:
        strict = schema.get("additionalProperties") is False
        as_json_schema = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": strict},
        }
        as_json_object = {"type": "json_object", "schema": schema}
        if self._response_format == "json_object":
            return await self._send({**request, "response_format": as_json_object})
        try:
            return await self._send({**request, "response_format": as_json_schema})
        except _Rejected:
            if self._response_format == "json_schema":
                raise
            response = await self._send({**request, "response_format": as_json_object})
            self._response_format = "json_object"
            return response

    async def _send(self, request: dict[str, Any]) -> Any:
        import openai

        try:
            return await self._get_client().chat.completions.create(**request)
        except openai.APITimeoutError as exc:
            raise timeout_error(self.name, str(exc)) from exc
        except openai.APIConnectionError as exc:
            raise connection_error(self.name, exc, self.base_url) from exc
        except openai.APIStatusError as exc:
            message = _message(exc)
            err = status_error(self.name, exc.status_code, message, exc.response.headers)
            if "response_format" in request and _format_rejected(exc.status_code, message):
                raise _Rejected(str(err), provider=self.name) from exc
            raise err from exc
        except openai.OpenAIError as exc:
            raise ModelError(f"{self.name}: {exc}", provider=self.name) from exc

    def _completion(
        self, response: Any, msgs: list[dict[str, str]], *, structured: bool, latency: float
    ) -> Completion:
        choices = []
        for raw in response.choices:
            text = raw.message.content or ""
            finish = raw.finish_reason or "stop"
            parsed = (
                parse_json(text, provider=self.name, finish_reason=finish) if structured else None
            )
            choices.append(Choice(text, parsed, _token_logprobs(raw), finish))
        usage = response.usage
        prompt_text = "".join(m["content"] for m in msgs)
        tokens_in = getattr(usage, "prompt_tokens", None) or estimate_tokens(prompt_text)
        tokens_out = getattr(usage, "completion_tokens", None) or sum(
            estimate_tokens(c.text) for c in choices
        )
        cost = cost_usd(self.name, tokens_in, tokens_out, self.settings)
        return Completion.from_choices(
            choices,
            usage=Usage(
                input_tokens=tokens_in,
                output_tokens=tokens_out,
                cost_usd=cost,
                latency_s=latency,
                model_calls=1,
            ),
            model=self.name,
            latency_s=latency,
        )


class _Rejected(ModelError):
    """A 400/422 for a request with response_format: maybe the format, maybe not."""


def _format_rejected(status: int, message: str) -> bool:
    """Did the server refuse the response_format? llama-cpp-python's server reports
    its request validation errors as HTTP 500, so a 500 counts when it names the field."""
    return status in (400, 422) or (status == 500 and "response_format" in message)


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        detail = body.get("detail")
        if detail:
            return str(detail)
    return str(getattr(exc, "message", exc))


def _token_logprobs(choice: Any) -> tuple[TokenLogprob, ...] | None:
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    tokens = [item.token for item in content]
    return tuple(
        TokenLogprob(item.token, float(item.logprob), off)
        for item, off in zip(content, offsets_for(tokens), strict=True)
    )


__all__ = ["OpenAIProvider"]
