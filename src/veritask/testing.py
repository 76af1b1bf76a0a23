"""Public test doubles: a scripted model and fault injectors for tools and models.

    from veritask.testing import ScriptedModel, FaultInjector, faulty_registry, FaultyModel

    faults = FaultInjector(rate=0.2, seed=7, key="q001")
    registry = faulty_registry(default_registry(), faults)
    model = FaultyModel(get_provider("local:smollm2-135m"), faults)
    Orchestrator(registry=registry, model=model).run("...")

They ship inside the package (like pydantic-ai's TestModel) so users can test
their own tools and plans the way veritask tests itself, and so `veritask
bench --faults RATE` can measure recovery with the same code.

Every decision is a pure function of ``(seed, key, channel, call index)``:
the same question under the same seed meets the same faults in the same
places, so a fault-injected benchmark run is reproducible and two modes can
be compared under identical conditions (up to how many calls each mode makes).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from veritask.errors import ModelError, ToolError
from veritask.models.base import (
    Choice,
    Completion,
    Message,
    SyncMixin,
    estimate_tokens,
    parse_json,
)
from veritask.models.scripted import HANG, ScriptedCall, ScriptedModel, ScriptExhausted
from veritask.tools.registry import ToolRegistry, ToolSpec
from veritask.types import Usage

TOOL_FAULTS = ("transient", "timeout", "malformed")
"""What a faulty tool does: raise ToolError(retryable=True), hang past its timeout,
or return data of the wrong shape."""

MODEL_FAULTS = ("garbage", "http_500", "http_429")
"""What a faulty model does: return unparseable text, or raise a retryable ModelError."""

FAULT_TIMEOUT_S = 2.0
"""Timeout given to every wrapped tool; the `timeout` fault sleeps past it.

Kept short so that a timeout costs the benchmark seconds, not a minute, yet
long enough that an in-memory tool never times out by itself on a busy
machine. A tool that loads data on its first call must be warmed first
(`veritask bench` loads the built-in geo data before the first question)."""

GARBAGE = (
    "",
    "}{ not json",
    "I'm sorry, I cannot help with that.",
    '{"tasks": [{"tool": ',
    "\u00ff\u00fe\x00\x01 lorem ipsum",
)


@dataclass(frozen=True)
class Fault:
    """One injected fault: where (`channel`, call `index`) and what (`kind`)."""

    channel: str
    index: int
    kind: str


class FaultInjector:
    """Decides, deterministically, which calls fail and how; records what it injected.

    Args:
        rate: probability in [0, 1] that any one call fails.
        seed: the benchmark seed.
        key: what distinguishes one unit of work (a question id) from another.

    One injector is meant for one question: its call counters start at zero,
    so the n-th tool call of question q001 under seed 7 always meets the
    same fate. Thread-safe, because sync tools run in worker threads.
    """

    def __init__(self, rate: float, *, seed: int = 0, key: str = "") -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {rate}")
        self.rate = rate
        self.seed = seed
        self.key = key
        self.injected: list[Fault] = []
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def decide(self, channel: str, kinds: Sequence[str]) -> str | None:
        """The fault for the next call on `channel` (`tool` or `model`), or None."""
        with self._lock:
            index = self.calls[channel]
            self.calls[channel] += 1
        kind = fault_for(self.rate, self.seed, self.key, channel, index, kinds)
        if kind is not None:
            with self._lock:
                self.injected.append(Fault(channel, index, kind))
        return kind

    def counts(self) -> dict[str, int]:
        """Injected faults per kind (for reports)."""
        return dict(Counter(f.kind for f in self.injected))


def fault_for(
    rate: float, seed: int, key: str, channel: str, index: int, kinds: Sequence[str]
) -> str | None:
    """The pure decision behind `FaultInjector.decide`: a fault kind or None.

    Seeding `random.Random` with a string hashes it with SHA-512, which is
    stable across processes (unlike `hash()`), so runs are reproducible.
    """
    if rate <= 0.0 or not kinds:
        return None
    rng = random.Random(f"{seed}|{key}|{channel}|{index}")
    if rng.random() >= rate:
        return None
    return kinds[rng.randrange(len(kinds))]


# -- tools ---------------------------------------------------------------------


def _malformed(value: Any) -> Any:
    """Data of the wrong shape: a dict loses its fields, anything else changes type."""
    if isinstance(value, Mapping):
        return {"unexpected": True}
    if isinstance(value, str):
        return {"error": None}
    return "n/a"


def faulty_spec(
    spec: ToolSpec, faults: FaultInjector, *, timeout_s: float = FAULT_TIMEOUT_S
) -> ToolSpec:
    """`spec` with a wrapped function that fails at `faults.rate`.

    The wrapper is async so the `timeout` fault is an `asyncio.sleep` the
    runtime can cancel (a sleeping thread could not be). A sync tool is called
    in a thread, as the inline backend would. The spec's timeout becomes
    `timeout_s` (or the tool's own, when that is shorter), and a tool declared
    `inline` (run on the loop without a timeout) loses that flag.
    """
    original = spec

    async def call(**kwargs: Any) -> Any:
        kind = faults.decide("tool", TOOL_FAULTS)
        if kind == "transient":
            raise ToolError(
                f"{original.name}: injected transient failure (service unavailable)",
                retryable=True,
                kind="InjectedFault",
            )
        if kind == "timeout":
            await asyncio.sleep(timeout_s * 2)
        if original.is_async:
            value = await original.fn(**kwargs)
        else:
            value = await asyncio.to_thread(original.fn, **kwargs)
        if kind == "malformed":
            from veritask.tools.registry import ToolResult

            if isinstance(value, ToolResult):
                return replace(value, value=_malformed(value.value))
            return _malformed(value)
        return value

    call.__name__ = spec.name
    call.__doc__ = spec.fn.__doc__
    limit = timeout_s if spec.timeout_s is None else min(spec.timeout_s, timeout_s)
    # Not `inline`: an inline tool runs without a timeout, and this one may hang.
    return replace(spec, fn=call, is_async=True, timeout_s=limit, inline=False)


def faulty_registry(
    registry: ToolRegistry, faults: FaultInjector, *, timeout_s: float = FAULT_TIMEOUT_S
) -> ToolRegistry:
    """A copy of `registry` whose every tool fails at `faults.rate` (see `faulty_spec`)."""
    return ToolRegistry([faulty_spec(spec, faults, timeout_s=timeout_s) for spec in registry])


# -- models ----------------------------------------------------------------------


class FaultyModel(SyncMixin):
    """A `ModelProvider` wrapper that, at `faults.rate`, returns garbage or raises
    a retryable `ModelError` shaped like an HTTP 500 or 429.

    It keeps the wrapped provider's `name`, so the router applies that model's
    prices, timeouts and retry policy: an injected 429 is retried exactly as a
    real one would be. Garbage keeps the real usage shape (one model call).
    """

    def __init__(self, inner: Any, faults: FaultInjector) -> None:
        self.inner = inner
        self.faults = faults
        self.name: str = inner.name

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
        kind = self.faults.decide("model", MODEL_FAULTS)
        if kind == "http_500":
            raise ModelError(
                f"{self.name}: HTTP 500 (injected): internal server error",
                retryable=True,
                provider=self.name,
            )
        if kind == "http_429":
            raise ModelError(
                f"{self.name}: HTTP 429 (rate limited, injected)",
                retryable=True,
                retry_after_s=0.05,
                provider=self.name,
            )
        if kind == "garbage":
            text = GARBAGE[self.faults.calls["model"] % len(GARBAGE)]
            if json_schema is not None:  # what a real provider does with unparseable JSON
                parse_json(text, provider=self.name, finish_reason="stop")
            usage = Usage(input_tokens=0, output_tokens=estimate_tokens(text) * n, model_calls=1)
            choices = [Choice(text)] * n
            return Completion.from_choices(choices, usage=usage, model=self.name, latency_s=0.0)
        result: Completion = await self.inner.acomplete(
            messages,
            json_schema=json_schema,
            grammar=grammar,
            max_tokens=max_tokens,
            temperature=temperature,
            n=n,
            logprobs=logprobs,
        )
        return result


__all__ = [
    "FAULT_TIMEOUT_S",
    "HANG",
    "MODEL_FAULTS",
    "TOOL_FAULTS",
    "Fault",
    "FaultInjector",
    "FaultyModel",
    "ScriptExhausted",
    "ScriptedCall",
    "ScriptedModel",
    "fault_for",
    "faulty_registry",
    "faulty_spec",
]
