"""A model that answers from a script: the test double for everything that calls a model.

    model = ScriptedModel(["Paris", {"country": "France"}, ModelError("boom", retryable=True)])
    await model.acomplete([user("Capital of France?")])        # -> text "Paris"
    model.calls[0].prompt                                       # -> "Capital of France?"

A script item is one of:

- ``str``: the answer text (parsed as JSON when the call passed a json_schema);
- ``dict`` / ``list`` / number / bool / None: a JSON answer (text is its JSON);
- a `Completion`: returned as is (use it for custom usage or token logprobs;
  `constrained(text, prob)` makes one as a grammar-constrained model reports it,
  `constrained(text, prob, finish_reason="length")` one the token cap cut);
- an exception instance or class: raised (e.g. ``ModelError(..., retryable=True)``);
- `HANG`: never answers until cancelled, for timeout tests without real sleeps;
- a callable ``(ScriptedCall) -> item`` (sync or async): computes the answer
  from the request, e.g. ``lambda call: call.prompt.upper()``.

Each call consumes one item per sample (``n=3`` consumes three). When the
script runs out, `default` answers if given; otherwise the call fails with
`ScriptExhausted`, an AssertionError, so a test with too few answers fails
loudly instead of being retried or routed to a fallback model.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from veritask.models.base import (
    Choice,
    Completion,
    Message,
    SyncMixin,
    TokenLogprob,
    check_request,
    estimate_tokens,
)
from veritask.types import Usage


class _Hang:
    def __repr__(self) -> str:
        return "HANG"


HANG: Any = _Hang()
"""Script item that blocks until the call is cancelled (e.g. by the router's timeout)."""

_UNSET: Any = object()


class ScriptExhausted(AssertionError):
    """A scripted model was called more often than its script has answers."""


@dataclass(frozen=True)
class ScriptedCall:
    """One recorded request, as the provider received it."""

    messages: list[dict[str, str]]
    json_schema: Mapping[str, Any] | None
    grammar: str | None
    max_tokens: int
    temperature: float
    n: int
    logprobs: bool

    @property
    def prompt(self) -> str:
        """The content of the last user message (what most assertions look at)."""
        for m in reversed(self.messages):
            if m["role"] == "user":
                return m["content"]
        return ""

    @property
    def system(self) -> str:
        return "\n".join(m["content"] for m in self.messages if m["role"] == "system")


def token_logprobs(text: str, prob: float | Sequence[float]) -> tuple[TokenLogprob, ...]:
    """Fake per-token logprobs for `text` split on whitespace (tokens keep their space).

    `prob` is one probability for every token or one per token; handy for
    testing logprob-based confidence without a real model.
    """
    tokens = re.findall(r"\s*\S+", text) or [text]
    probs = [prob] * len(tokens) if isinstance(prob, int | float) else list(prob)
    if len(probs) != len(tokens):
        raise ValueError(f"{len(tokens)} tokens in {text!r} but {len(probs)} probabilities")
    out, offset = [], 0
    for tok, p in zip(tokens, probs, strict=True):
        out.append(TokenLogprob(tok, math.log(p) if p > 0 else -math.inf, offset))
        offset += len(tok)
    return tuple(out)


def constrained(text: str, prob: float, *, finish_reason: str = "stop") -> Completion:
    """A sample as the embedded model reports it under a grammar: `text`, whose output
    probability (tokens and stop, normalised over what the grammar allowed) is `prob`.

    The first token carries the uncertainty and the rest are forced, as when a model
    chooses where a span starts and the grammar does the rest; script it to test a
    model worker's confidence (see `veritask.models.worker_scoring`).

    ``finish_reason="length"`` scripts an output the token cap cut: the model never
    chose to stop, so, as the embedded model reports it, there is no stop probability
    (`end_logprob` is None) and `text` is only the start of what it meant to say.
    """
    lps = token_logprobs(text, prob)
    allowed = (math.log(prob),) + (0.0,) * (len(lps) - 1)
    end = 0.0 if finish_reason == "stop" else None
    choice = Choice(text, None, lps, finish_reason, allowed, end)
    usage = Usage(output_tokens=estimate_tokens(text), model_calls=1)
    return Completion.from_choices([choice], usage=usage, model="", latency_s=0.0)


class ScriptedModel(SyncMixin):
    """A `ModelProvider` that replays queued answers and records every call."""

    def __init__(
        self,
        script: Iterable[Any] = (),
        *,
        name: str = "scripted",
        default: Any = _UNSET,
        token_prob: float | None = None,
    ) -> None:
        """`token_prob` attaches fake token logprobs (that probability per token)
        to text answers when a call asks for logprobs."""
        self.name = name
        self.default = default
        self.token_prob = token_prob
        self.calls: list[ScriptedCall] = []
        self._script: deque[Any] = deque(script)

    def add(self, *items: Any) -> ScriptedModel:
        """Queue more answers; returns self so calls chain."""
        self._script.extend(items)
        return self

    @property
    def remaining(self) -> int:
        """Answers still queued (a test can assert the script was used up)."""
        return len(self._script)

    @property
    def last_call(self) -> ScriptedCall:
        if not self.calls:
            raise AssertionError(f"{self.name} was never called")
        return self.calls[-1]

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
        call = ScriptedCall(msgs, json_schema, grammar, max_tokens, temperature, n, logprobs)
        self.calls.append(call)
        completions = [await self._answer(call) for _ in range(n)]
        if n == 1:
            return completions[0]
        choices = [c.choices[0] for c in completions]
        usage = Usage(
            input_tokens=completions[0].usage.input_tokens,
            output_tokens=sum(c.usage.output_tokens for c in completions),
            cost_usd=sum(c.usage.cost_usd for c in completions),
            model_calls=1,
        )
        return Completion.from_choices(choices, usage=usage, model=self.name, latency_s=0.0)

    async def _answer(self, call: ScriptedCall) -> Completion:
        if self._script:
            item = self._script.popleft()
        elif self.default is not _UNSET:
            item = self.default
        else:
            raise ScriptExhausted(
                f"{self.name} got call #{len(self.calls)} but its script ran out; "
                f"queue more answers with .add(...) or pass default=... "
                f"(prompt: {call.prompt[:120]!r})"
            )
        while callable(item) and not isinstance(item, type):
            item = item(call)
            if inspect.isawaitable(item):
                item = await item
        if item is HANG:
            await asyncio.Event().wait()
        if isinstance(item, BaseException) or (
            isinstance(item, type) and issubclass(item, BaseException)
        ):
            raise item
        return self._completion(item, call)

    def _completion(self, item: Any, call: ScriptedCall) -> Completion:
        tokens_in = estimate_tokens("".join(m["content"] for m in call.messages))
        if isinstance(item, Completion):
            return item if item.model else replace(item, model=self.name)
        if isinstance(item, str):
            text = item
            parsed = json.loads(item) if call.json_schema is not None else None
        else:
            text, parsed = json.dumps(item), item
        lps = None
        if call.logprobs and self.token_prob is not None:
            lps = token_logprobs(text, self.token_prob)
        usage = Usage(input_tokens=tokens_in, output_tokens=estimate_tokens(text), model_calls=1)
        choice = Choice(text, parsed, lps)
        return Completion.from_choices([choice], usage=usage, model=self.name, latency_s=0.0)


__all__ = [
    "HANG",
    "ScriptExhausted",
    "ScriptedCall",
    "ScriptedModel",
    "constrained",
    "token_logprobs",
]
