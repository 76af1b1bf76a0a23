"""Use any LangChain chat model as a veritask provider.

    from langchain_openai import ChatOpenAI
    router = Router(providers={"lc:gpt": LangChainModel(ChatOpenAI(model="gpt-4o-mini"))},
                    settings=Settings(model="lc:gpt"))

Structured output goes through the model's own ``with_structured_output``
when it has one; models without it (fakes, plain completion wrappers) get the
schema as an instruction and their JSON answer is parsed. Token usage comes
from ``usage_metadata`` when the integration reports it, else it is estimated
(4 characters a token) so budgets still bound the run.

The adapter wraps foreign code, so it maps *any* exception to `ModelError`;
only timeouts, connection errors, 429 and 5xx are marked retryable.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from veritask.errors import ModelError
from veritask.models._errors import status_error, timeout_error
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
from veritask.types import Usage

_JSON_INSTRUCTION = (
    "Answer with one JSON value only, no prose and no code fences. "
    "It must match this JSON schema:\n{schema}"
)


class LangChainModel(SyncMixin):
    """Adapter from a `langchain_core` ``BaseChatModel`` to `ModelProvider`.

    `pass_generation_args` sends ``max_tokens`` and ``temperature`` with each
    call (most integrations accept them); switch it off for a model that
    rejects unknown arguments and configure those on the model instead.
    """

    def __init__(
        self,
        chat_model: Any,
        *,
        name: str | None = None,
        pass_generation_args: bool = True,
    ) -> None:
        self.chat_model = chat_model
        model_id = getattr(chat_model, "model_name", None) or getattr(chat_model, "model", None)
        self.name = name or f"langchain:{model_id or type(chat_model).__name__}"
        self.pass_generation_args = pass_generation_args

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
        kwargs: dict[str, Any] = {}
        if self.pass_generation_args:
            kwargs = {"max_tokens": max_tokens, "temperature": temperature}
        started = time.perf_counter()
        choices, tokens_in, tokens_out = [], 0, 0
        for _ in range(n):
            choice, t_in, t_out = await self._one(msgs, json_schema, kwargs)
            choices.append(choice)
            tokens_in, tokens_out = max(tokens_in, t_in), tokens_out + t_out
        latency = time.perf_counter() - started
        usage = Usage(
            input_tokens=tokens_in, output_tokens=tokens_out, latency_s=latency, model_calls=1
        )
        return Completion.from_choices(choices, usage=usage, model=self.name, latency_s=latency)

    async def _one(
        self,
        msgs: list[dict[str, str]],
        schema: Mapping[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> tuple[Choice, int, int]:
        if schema is not None:
            native = self._structured_runnable(schema)
            if native is not None:
                result = await self._invoke(native, msgs, kwargs)
                return self._from_structured(result, msgs)
            instruction = _JSON_INSTRUCTION.format(schema=json.dumps(schema))
            msgs = [{"role": "system", "content": instruction}, *msgs]
        message = await self._invoke(self.chat_model, msgs, kwargs)
        text = _text(message)
        finish = _finish(message)
        parsed = None
        if schema is not None:
            parsed = parse_json(_strip_fences(text), provider=self.name, finish_reason=finish)
        t_in, t_out = _usage(message, msgs, text)
        return Choice(text, parsed, _logprobs(message), finish), t_in, t_out

    def _structured_runnable(self, schema: Mapping[str, Any]) -> Any:
        schema = {"title": "answer", "description": "The answer.", **schema}
        try:
            return self.chat_model.with_structured_output(schema, include_raw=True)
        except NotImplementedError:
            return None

    def _from_structured(self, result: Any, msgs: list[dict[str, str]]) -> tuple[Choice, int, int]:
        if result.get("parsing_error") is not None or result.get("parsed") is None:
            raise ModelError(
                f"{self.name} returned output that does not match the schema: "
                f"{result.get('parsing_error')}",
                provider=self.name,
            )
        parsed = result["parsed"]
        if hasattr(parsed, "model_dump"):
            parsed = parsed.model_dump()
        raw = result.get("raw")
        text = json.dumps(parsed)
        t_in, t_out = _usage(raw, msgs, text)
        return Choice(text, parsed, None, _finish(raw)), t_in, t_out

    async def _invoke(
        self, runnable: Any, msgs: list[dict[str, str]], kwargs: dict[str, Any]
    ) -> Any:
        lc_messages = [(m["role"] if m["role"] != "user" else "human", m["content"]) for m in msgs]
        try:
            return await runnable.ainvoke(lc_messages, **kwargs)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise _map_error(self.name, exc) from exc


def _map_error(provider: str, exc: Exception) -> ModelError:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        return status_error(provider, status, str(exc), headers)
    kind = type(exc).__name__
    if isinstance(exc, TimeoutError) or "Timeout" in kind:
        return timeout_error(provider, f"{kind}: {exc}")
    if isinstance(exc, ConnectionError) or "Connect" in kind:
        return ModelError(f"{provider}: {kind}: {exc}", retryable=True, provider=provider)
    return ModelError(f"{provider}: {kind}: {exc}", provider=provider)


def _text(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, str) or (isinstance(part, dict) and part.get("type") == "text")
        )
    return str(content)


def _finish(message: Any) -> str:
    meta = getattr(message, "response_metadata", None) or {}
    reason = meta.get("finish_reason") or meta.get("stop_reason") or "stop"
    return "length" if reason in ("length", "max_tokens") else "stop"


def _usage(message: Any, msgs: list[dict[str, str]], text: str) -> tuple[int, int]:
    meta = getattr(message, "usage_metadata", None)
    if meta:
        return int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0))
    return estimate_tokens("".join(m["content"] for m in msgs)), estimate_tokens(text)


def _logprobs(message: Any) -> tuple[TokenLogprob, ...] | None:
    meta = getattr(message, "response_metadata", None) or {}
    content = (meta.get("logprobs") or {}).get("content") if isinstance(meta, dict) else None
    if not content:
        return None
    tokens = [str(item["token"]) for item in content]
    return tuple(
        TokenLogprob(tok, float(item["logprob"]), off)
        for tok, item, off in zip(tokens, content, offsets_for(tokens), strict=True)
    )


def _strip_fences(text: str) -> str:
    match = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    return (match.group(1) if match else text).strip()


__all__ = ["LangChainModel"]
