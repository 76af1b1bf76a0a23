"""`anthropic:MODEL` — Claude through the official `anthropic` SDK.

The key comes from ``ANTHROPIC_API_KEY`` (or the variable named by
``[models."anthropic:MODEL"] api_key_env``); the endpoint from `base_url` or
``ANTHROPIC_BASE_URL``. System messages become the ``system`` parameter.
Structured output uses ``output_config.format`` (``json_schema``). Claude
returns no token logprobs and takes no grammar: `logprobs=True` yields
``token_logprobs=None`` (confidence then comes from self-consistency), and a
grammar is refused with a non-retryable `ModelError` so the router can fall
back to a model that can honour it.
"""

from __future__ import annotations

import asyncio
import functools
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
    check_request,
    parse_json,
)
from veritask.models.prices import cost_usd, model_entry
from veritask.types import Usage

if TYPE_CHECKING:
    import anthropic

DEFAULT_TIMEOUT_S = 60.0
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class AnthropicProvider(SyncMixin):
    """Messages API calls; ``n > 1`` is served by n concurrent requests."""

    def __init__(
        self,
        model: str,
        *,
        settings: Settings | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float | None = None,
        client: anthropic.AsyncAnthropic | None = None,
        http_client: Any = None,
    ) -> None:
        self.model = model
        self.name = f"anthropic:{model}"
        self.settings = settings
        entry = model_entry(self.name, settings)
        self.base_url = base_url or entry.base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
        self.timeout_s = timeout_s or entry.timeout_s or DEFAULT_TIMEOUT_S
        self._http_client = http_client
        self.api_key = api_key or ("" if client is not None else self._api_key(entry.api_key_env))
        self._clients: LoopClients[anthropic.AsyncAnthropic] = LoopClients(
            self._make_client, given=client, owns_connections=http_client is None
        )

    def _api_key(self, key_env: str | None) -> str:
        var = key_env or "ANTHROPIC_API_KEY"
        value = os.environ.get(var)
        if not value:
            raise ConfigError(f"{self.name} needs an API key: set {var} in the environment")
        return value

    def _make_client(self) -> anthropic.AsyncAnthropic:
        import anthropic

        return anthropic.AsyncAnthropic(
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=self.timeout_s,
            max_retries=0,
            http_client=self._http_client,
        )

    def _get_client(self) -> anthropic.AsyncAnthropic:
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
        if grammar is not None:
            raise ModelError(
                f"{self.name} cannot follow a GBNF grammar; pass json_schema instead",
                provider=self.name,
            )
        system = "\n\n".join(m["content"] for m in msgs if m["role"] == "system")
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [m for m in msgs if m["role"] != "system"],
            "max_tokens": max_tokens,
        }
        if "temperature" in _sdk_parameters():
            request["temperature"] = min(temperature, 1.0)
        if system:
            request["system"] = system
        if json_schema is not None:
            output_config = {"format": {"type": "json_schema", "schema": dict(json_schema)}}
            if "output_config" in _sdk_parameters():
                request["output_config"] = output_config
            else:  # an SDK older than structured outputs: same request body
                request["extra_body"] = {"output_config": output_config}
        started = time.perf_counter()
        if n == 1:
            responses = [await self._send(request)]
        else:
            responses = list(await asyncio.gather(*(self._send(request) for _ in range(n))))
        latency = time.perf_counter() - started
        return self._completion(responses, structured=json_schema is not None, latency=latency)

    async def _send(self, request: dict[str, Any]) -> Any:
        import anthropic

        try:
            return await self._get_client().messages.create(**request)
        except anthropic.APITimeoutError as exc:
            raise timeout_error(self.name, str(exc)) from exc
        except anthropic.APIConnectionError as exc:
            raise connection_error(self.name, exc, self.base_url) from exc
        except anthropic.APIStatusError as exc:
            raise status_error(
                self.name, exc.status_code, _message(exc), exc.response.headers
            ) from exc
        except anthropic.AnthropicError as exc:
            raise ModelError(f"{self.name}: {exc}", provider=self.name) from exc

    def _completion(self, responses: list[Any], *, structured: bool, latency: float) -> Completion:
        choices = []
        tokens_in = tokens_out = 0
        for response in responses:
            text = "".join(
                getattr(block, "text", "")
                for block in response.content
                if getattr(block, "type", "") == "text"
            )
            finish = _FINISH.get(response.stop_reason or "end_turn", response.stop_reason)
            parsed = (
                parse_json(text, provider=self.name, finish_reason=finish) if structured else None
            )
            choices.append(Choice(text, parsed, None, finish))
            tokens_in += response.usage.input_tokens or 0
            tokens_out += response.usage.output_tokens or 0
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


@functools.cache
def _sdk_parameters() -> frozenset[str]:
    """What the installed SDK's messages.create takes. Recent SDKs dropped
    `temperature` (newer Claude models sample at a fixed temperature) and older
    ones lack `output_config`; requests adapt instead of failing with TypeError."""
    import inspect

    import anthropic

    create = anthropic.resources.messages.AsyncMessages.create
    return frozenset(inspect.signature(create).parameters)


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return f"{err.get('type', 'error')}: {err['message']}"
    return str(getattr(exc, "message", exc))


__all__ = ["AnthropicProvider"]
