"""Which model answers a task, and what happens when it fails.

    router = Router(settings)
    completion = await router.acomplete("extract", [user("...")], max_tokens=64)

A task kind (`plan`, `extract`, `synthesize`, `verify`, `deep`, `escalate`)
maps to a chain of models from ``Settings.routes`` (default: just
``Settings.model``). For each model in turn:

1. skip it while its **circuit breaker** is open (N consecutive failures
   open it for a cool-down; after that one call may probe it again);
2. **cap** ``max_tokens`` by the model's `max_tokens` setting and by the run
   budget's remaining tokens, and bound the call by a **timeout** (the model's
   `timeout_s`, the call's, and the budget's remaining seconds);
3. **retry** only a `ModelError` marked retryable (timeout, connection error,
   429, 5xx), with exponential backoff that honours Retry-After; a
   Retry-After longer than `RetryPolicy.max_retry_after_s` moves on instead;
4. on a final failure, fall back to the next model.

After every attempt, successful or not, the run's budget meter (if one is
bound, see `veritask.budget`) is charged; `BudgetExceeded`
propagates at once. A `ConfigError` (say, a missing API key) also
propagates: falling back would hide a mistake the user has to fix.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from veritask.budget import BudgetMeter, current_meter
from veritask.config import Settings, load_settings
from veritask.errors import BudgetExceeded, ConfigError, ModelError
from veritask.models.base import Completion, Message, ModelProvider, run_sync
from veritask.models.prices import model_entry
from veritask.models.registry import get_provider
from veritask.types import Backoff, Usage

KINDS = ("plan", "extract", "synthesize", "verify", "deep", "escalate")
DEFAULT_TIMEOUT_S = 60.0
LOCAL_TIMEOUT_S = 300.0
"""An embedded generation cannot be interrupted, and calls queue behind each other on
a busy machine: a short timeout would abandon work that is merely waiting its turn."""
DEFAULT_MAX_TOKENS = 512


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one model is retried before falling back."""

    max_attempts: int = 3
    backoff: Backoff = field(
        default_factory=lambda: Backoff(initial_s=0.5, factor=2.0, max_s=8.0, jitter=0.5)
    )
    max_retry_after_s: float = 30.0


@dataclass(frozen=True)
class BreakerPolicy:
    """Open a model's circuit after `failures` consecutive failed attempts, for `cooldown_s`."""

    failures: int = 3
    cooldown_s: float = 30.0


BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """Per-model consecutive-failure counters with a cool-down (clock injected).

    It also keeps the last real error of each model, so a call skipped while
    the circuit is open can say why it opened ("cannot connect to …"), not
    only for how long.
    """

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._open_until: dict[str, float] = {}
        self._last_error: dict[str, ModelError] = {}

    def state(self, name: str) -> BreakerState:
        until = self._open_until.get(name)
        if until is None:
            return "closed"
        return "open" if self._clock() < until else "half-open"

    def allow(self, name: str) -> bool:
        return self.state(name) != "open"

    def reopens_in(self, name: str) -> float:
        return max(0.0, self._open_until.get(name, 0.0) - self._clock())

    def last_error(self, name: str) -> ModelError | None:
        """The error of `name`'s latest failed attempt, if it has failed since its last success."""
        return self._last_error.get(name)

    def skipped(self, name: str) -> ModelError:
        """The error recorded for a call not made because `name`'s circuit is open."""
        text = f"skipped: circuit open for {self.reopens_in(name):.1f}s more"
        count = self._failures.get(name, 0)
        last = self._last_error.get(name)
        if last is not None:
            text += f" after {count} failed attempt(s); last error: {last}"
        return ModelError(text, provider=name)

    def success(self, name: str) -> None:
        self._failures.pop(name, None)
        self._open_until.pop(name, None)
        self._last_error.pop(name, None)

    def failure(self, name: str, error: ModelError | None = None) -> None:
        if error is not None:
            self._last_error[name] = error
        count = self._failures.get(name, 0) + 1
        self._failures[name] = count
        if count >= self.policy.failures:
            self._open_until[name] = self._clock() + self.policy.cooldown_s


class AllModelsFailed(ModelError):
    """Every model in a kind's chain failed or was skipped; `failures` says how."""

    def __init__(self, kind: str, failures: list[tuple[str, ModelError]]) -> None:
        self.kind = kind
        self.failures = failures
        detail = "; ".join(f"[{name}] {exc}" for name, exc in failures)
        super().__init__(
            f"no model could answer a {kind!r} call: {detail}",
            retryable=any(exc.retryable for _, exc in failures),
            provider=",".join(name for name, _ in failures),
        )


@dataclass(frozen=True)
class _Request:
    messages: Sequence[Message]
    json_schema: Mapping[str, Any] | None
    grammar: str | None
    max_tokens: int
    temperature: float
    n: int
    logprobs: bool
    timeout_s: float | None


class Router:
    """Routes calls by task kind over fallback chains; bounded, retried, costed."""

    def __init__(
        self,
        settings: Settings | None = None,
        providers: Mapping[str, ModelProvider] | None = None,
        *,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        unknown = sorted(set(self.settings.routes) - set(KINDS))
        if unknown:
            raise ConfigError(
                f"routes has unknown task kind(s) {unknown}; known kinds: {', '.join(KINDS)}"
            )
        self.retry = retry or RetryPolicy()
        self.breaker = CircuitBreaker(breaker or BreakerPolicy(), clock)
        self._providers: dict[str, ModelProvider] = dict(providers or {})
        self._clock = clock
        self._sleep = sleep
        self._rand = rand

    def chain(self, kind: str) -> list[str]:
        """The models tried for `kind`, in order."""
        if kind not in KINDS:
            raise ValueError(f"unknown task kind {kind!r}; known kinds: {', '.join(KINDS)}")
        return list(self.settings.routes.get(kind) or [self.settings.model])

    def models(self) -> list[str]:
        """Every configured model: the default first, then the routes' in order, no repeats."""
        names = [self.settings.model]
        for kind in KINDS:
            names.extend(self.settings.routes.get(kind, []))
        return list(dict.fromkeys(names))

    def provider(self, name: str) -> ModelProvider:
        """The provider behind `name`, built on first use (ConfigError if it cannot be)."""
        found = self._providers.get(name)
        if found is None:
            found = get_provider(name, self.settings)
            self._providers[name] = found
        return found

    async def acomplete(
        self,
        kind: str,
        messages: Sequence[Message],
        *,
        json_schema: Mapping[str, Any] | None = None,
        grammar: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
        n: int = 1,
        logprobs: bool = False,
        timeout_s: float | None = None,
        models: Sequence[str] | None = None,
    ) -> Completion:
        """Complete with the first model of `kind`'s chain that answers.

        `models` replaces the chain for this call (e.g. an escalation that
        names its model). Raises `AllModelsFailed` (a ModelError) when no model
        answers, `BudgetExceeded` when the run's budget runs out, `ConfigError`
        when a model is misconfigured.
        """
        request = _Request(
            messages, json_schema, grammar, max_tokens, temperature, n, logprobs, timeout_s
        )
        failures: list[tuple[str, ModelError]] = []
        chain = self.chain(kind)  # validates the kind even when `models` overrides it
        if models:
            chain = list(models)
        for name in chain:
            if not self.breaker.allow(name):
                failures.append((name, self.breaker.skipped(name)))
                continue
            provider = self.provider(name)
            try:
                return await self._call(name, provider, request)
            except ModelError as exc:
                failures.append((name, exc))
        raise AllModelsFailed(kind, failures)

    def complete(self, kind: str, messages: Sequence[Message], **kwargs: Any) -> Completion:
        """Blocking twin of `acomplete`."""

        async def once() -> Completion:
            try:
                return await self.acomplete(kind, messages, **kwargs)
            finally:  # the helper loop ends here; so must its connections
                await self.aclose()

        return run_sync(once())

    async def aclose(self) -> None:
        """Close the providers' connections on the running loop; call it before the
        loop ends (``asyncio.run`` returns) to avoid warnings about unclosed clients."""
        for provider in self._providers.values():
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()

    async def _call(self, name: str, provider: ModelProvider, request: _Request) -> Completion:
        """One model, with retries on retryable errors."""
        attempt = 0
        while True:
            attempt += 1
            meter = current_meter()
            max_tokens = self._token_cap(name, request.max_tokens, meter)
            timeout = self._timeout(name, request.timeout_s, meter)
            started = self._clock()
            try:
                async with asyncio.timeout(timeout):  # cheaper than wait_for: no extra task
                    completion = await provider.acomplete(
                        request.messages,
                        json_schema=request.json_schema,
                        grammar=request.grammar,
                        max_tokens=max_tokens,
                        temperature=request.temperature,
                        n=request.n,
                        logprobs=request.logprobs,
                    )
            except TimeoutError:
                error = ModelError(
                    f"{name}: no answer within {timeout:g}s", retryable=True, provider=name
                )
            except ModelError as exc:
                error = exc
            else:
                self.breaker.success(name)
                _charge(meter, completion.usage)
                return completion
            self.breaker.failure(name, error)
            _charge(meter, Usage(model_calls=1, latency_s=max(0.0, self._clock() - started)))
            delay = self._retry_delay(name, error, attempt, meter)
            if delay is None:
                raise error
            await self._sleep(delay)

    def _retry_delay(
        self, name: str, error: ModelError, attempt: int, meter: BudgetMeter | None
    ) -> float | None:
        """Seconds to wait before retrying `name`, or None to give up on it."""
        if not error.retryable or attempt >= self.retry.max_attempts:
            return None
        if not self.breaker.allow(name):
            return None
        delay = self.retry.backoff.delay(attempt, self._rand())
        if error.retry_after_s is not None:
            if error.retry_after_s > self.retry.max_retry_after_s:
                return None
            delay = max(delay, error.retry_after_s)
        remaining = meter.remaining_seconds() if meter is not None else None
        if remaining is not None and delay >= remaining:
            return None
        return delay

    def _token_cap(self, name: str, requested: int, meter: BudgetMeter | None) -> int:
        cap = requested
        entry_cap = model_entry(name, self.settings).max_tokens
        if entry_cap is not None:
            cap = min(cap, entry_cap)
        if meter is None:
            return cap
        meter.check()
        budget, used = meter.budget, meter.used
        if budget.max_model_calls is not None and used.model_calls >= budget.max_model_calls:
            raise BudgetExceeded("model_calls", budget.max_model_calls, used.model_calls + 1)
        remaining = meter.remaining_tokens()
        if remaining is not None:
            if remaining < 1:
                limit = budget.max_tokens or 0
                raise BudgetExceeded("tokens", limit, used.input_tokens + used.output_tokens)
            cap = min(cap, remaining)
        return cap

    def _timeout(self, name: str, requested: float | None, meter: BudgetMeter | None) -> float:
        default = LOCAL_TIMEOUT_S if name.startswith("local:") else DEFAULT_TIMEOUT_S
        timeout = requested or model_entry(name, self.settings).timeout_s or default
        remaining = meter.remaining_seconds() if meter is not None else None
        if remaining is not None:
            if remaining <= 0:
                limit = meter.budget.max_seconds if meter is not None else 0
                raise BudgetExceeded("seconds", limit or 0, meter.elapsed() if meter else 0)
            timeout = min(timeout, remaining)
        return timeout


def _charge(meter: BudgetMeter | None, usage: Usage) -> None:
    if meter is None:
        return
    if usage.model_calls < 1:
        usage = usage.model_copy(update={"model_calls": 1})
    meter.charge(usage)


__all__ = [
    "KINDS",
    "AllModelsFailed",
    "BreakerPolicy",
    "CircuitBreaker",
    "RetryPolicy",
    "Router",
]
