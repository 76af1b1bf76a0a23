"""What every model provider returns and promises.

A provider turns chat messages into a `Completion`. The contract is small on
purpose so that an embedded llama.cpp model, an HTTP API and a scripted test
double are interchangeable behind the `Router`:

- `acomplete` is the real implementation (async-first, because the runtime is
  an asyncio scheduler); `complete` is a blocking twin for scripts and REPLs.
- Failures leave a provider only as `ModelError` (with `retryable` set for
  timeouts, connection errors, 429 and 5xx) or `ConfigError` (the caller must
  fix something, e.g. set an API key). SDK exceptions never leak.
- Every `Completion` carries `Usage` with `model_calls=1`, tokens, latency and
  cost, so the router can charge the run's budget.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import json
import math
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from veritask.errors import ModelError
from veritask.types import Usage

Role = Literal["system", "user", "assistant"]
Message = Mapping[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""

ROLES: frozenset[str] = frozenset({"system", "user", "assistant"})

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One generated token, its log-probability, and where it starts in the text.

    `offset` is a character offset into the choice's text, so a confidence
    helper can pick the tokens of an answer span without re-tokenising.
    """

    token: str
    logprob: float
    offset: int = 0

    @property
    def prob(self) -> float:
        return math.exp(self.logprob)


@dataclass(frozen=True, slots=True)
class Choice:
    """One sampled answer. A call with ``n=k`` returns k choices."""

    text: str
    parsed: Any = None
    token_logprobs: tuple[TokenLogprob, ...] | None = None
    finish_reason: str = "stop"
    grammar_logprobs: tuple[float, ...] | None = None
    """Each token's log-probability among the tokens the call's grammar allowed at its
    position (a forced token scores 0), when the provider knows them (the embedded
    model does); `token_logprobs` stay over the whole vocabulary."""
    end_logprob: float | None = None
    """Log-probability, among the tokens the grammar allowed, of stopping where the
    output stopped: with it, exp(sum(grammar_logprobs) + end_logprob) is the probability
    of exactly this output among the outputs the grammar admits."""


@dataclass(frozen=True)
class Completion:
    """The result of one model call.

    `text`, `parsed` and `token_logprobs` describe the first (or only) sample;
    `choices` holds all of them when ``n > 1``. `parsed` is the decoded JSON
    when the call asked for a `json_schema`, else None.
    """

    text: str
    parsed: Any = None
    token_logprobs: tuple[TokenLogprob, ...] | None = None
    usage: Usage = field(default_factory=lambda: Usage(model_calls=1))
    model: str = ""
    latency_s: float = 0.0
    finish_reason: str = "stop"
    choices: tuple[Choice, ...] = ()

    def __post_init__(self) -> None:
        if not self.choices:
            first = Choice(self.text, self.parsed, self.token_logprobs, self.finish_reason)
            object.__setattr__(self, "choices", (first,))

    @property
    def texts(self) -> list[str]:
        """The text of every sample, first one first (what self-consistency compares)."""
        return [c.text for c in self.choices]

    @classmethod
    def from_choices(
        cls, choices: Sequence[Choice], *, usage: Usage, model: str, latency_s: float
    ) -> Completion:
        """Build a completion whose top-level fields mirror the first choice."""
        if not choices:
            raise ModelError(f"{model} returned no choices", provider=model)
        first = choices[0]
        return cls(
            text=first.text,
            parsed=first.parsed,
            token_logprobs=first.token_logprobs,
            usage=usage,
            model=model,
            latency_s=latency_s,
            finish_reason=first.finish_reason,
            choices=tuple(choices),
        )


@runtime_checkable
class ModelProvider(Protocol):
    """Anything that can complete a chat. `name` is the routing name, e.g. ``openai:gpt-4o``."""

    name: str

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
    ) -> Completion: ...

    def complete(
        self,
        messages: Sequence[Message],
        *,
        json_schema: Mapping[str, Any] | None = None,
        grammar: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        n: int = 1,
        logprobs: bool = False,
    ) -> Completion: ...


class SyncMixin:
    """Gives a provider its blocking `complete` from its `acomplete`."""

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
        raise NotImplementedError

    def complete(
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
        """Blocking twin of `acomplete`; safe to call from inside a running event loop."""

        async def once() -> Completion:
            try:
                return await self.acomplete(
                    messages,
                    json_schema=json_schema,
                    grammar=grammar,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    n=n,
                    logprobs=logprobs,
                )
            finally:  # the helper loop ends here; so must its connections
                await self.aclose()

        return run_sync(once())

    async def aclose(self) -> None:
        """Release connections opened on the running event loop (none by default)."""


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion from sync code.

    Inside a running loop (Jupyter, an async web handler) `asyncio.run` would
    fail, so the coroutine then runs on a fresh loop in a helper thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Copy the context so the helper thread sees the caller's budget meter.
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(context.run, asyncio.run, coro).result()


def system(content: str) -> dict[str, str]:
    """A system message."""
    return {"role": "system", "content": content}


def user(content: str) -> dict[str, str]:
    """A user message."""
    return {"role": "user", "content": content}


def assistant(content: str) -> dict[str, str]:
    """An assistant message (a previous answer, or a few-shot example)."""
    return {"role": "assistant", "content": content}


def check_request(
    messages: Sequence[Message], *, max_tokens: int, n: int, temperature: float, provider: str
) -> list[dict[str, str]]:
    """Validate the arguments every provider shares; return plain-dict messages.

    Bad arguments are the caller's bug, so they raise ValueError, not ModelError
    (which would be retried or routed to a fallback model).
    """
    if not messages:
        raise ValueError(f"{provider}: messages must not be empty")
    if max_tokens < 1:
        raise ValueError(f"{provider}: max_tokens must be >= 1, got {max_tokens}")
    if n < 1:
        raise ValueError(f"{provider}: n must be >= 1, got {n}")
    if temperature < 0:
        raise ValueError(f"{provider}: temperature must be >= 0, got {temperature}")
    out: list[dict[str, str]] = []
    for i, m in enumerate(messages):
        role, content = m.get("role"), m.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise ValueError(
                f"{provider}: message {i} must be {{'role': system|user|assistant, "
                f"'content': str}}, got {dict(m)!r}"
            )
        out.append({"role": role, "content": content})
    return out


def parse_json(text: str, *, provider: str, finish_reason: str) -> Any:
    """Decode a structured answer, or say why it is not JSON.

    Constrained decoding only yields broken JSON when generation stopped early
    (``finish_reason == "length"``), so the message points at max_tokens then.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = (
            "; the output hit max_tokens before the JSON was complete, raise max_tokens"
            if finish_reason == "length"
            else ""
        )
        raise ModelError(
            f"{provider} returned invalid JSON ({exc.msg} at char {exc.pos}){hint}: {text[:200]!r}",
            retryable=False,
            provider=provider,
        ) from exc


def estimate_tokens(text: str) -> int:
    """A rough token count (4 characters a token) for providers that report none."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def offsets_for(tokens: Sequence[str]) -> list[int]:
    """Character offset of each token when the tokens are concatenated."""
    offsets, pos = [], 0
    for tok in tokens:
        offsets.append(pos)
        pos += len(tok)
    return offsets


__all__ = [
    "Choice",
    "Completion",
    "Message",
    "ModelProvider",
    "SyncMixin",
    "TokenLogprob",
    "assistant",
    "check_request",
    "estimate_tokens",
    "parse_json",
    "run_sync",
    "system",
    "user",
]
