from __future__ import annotations

from collections.abc import Iterator

import pytest

from veritask.budget import BudgetMeter, bind_meter, unbind_meter
from veritask.config import Budget, ModelEntry, Settings
from veritask.errors import BudgetExceeded, ConfigError, ModelError
from veritask.models import (
    HANG,
    AllModelsFailed,
    BreakerPolicy,
    Completion,
    RetryPolicy,
    Router,
    ScriptedModel,
    user,
)
from veritask.types import Backoff, Usage

Q = [user("question")]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeps:
    """Records requested sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_router(
    routes: dict[str, list[str]] | None = None,
    models: dict[str, ModelEntry] | None = None,
    **providers: ScriptedModel,
) -> tuple[Router, Sleeps, FakeClock]:
    settings = Settings(model="a", routes=routes or {}, models=models or {})
    sleeps, clock = Sleeps(), FakeClock()
    router = Router(
        settings,
        providers=providers,
        retry=RetryPolicy(max_attempts=3, backoff=Backoff(initial_s=0.5, factor=2, jitter=0)),
        breaker=BreakerPolicy(failures=3, cooldown_s=10),
        clock=clock,
        sleep=sleeps,
        rand=lambda: 0.0,
    )
    return router, sleeps, clock


@pytest.fixture
def meter() -> Iterator[BudgetMeter]:
    m = BudgetMeter(Budget(max_tokens=1000, max_model_calls=10))
    token = bind_meter(m)
    yield m
    unbind_meter(token)


def test_chain_defaults_to_the_default_model_and_follows_routes() -> None:
    router, _, _ = make_router(routes={"plan": ["b", "a"]})
    assert router.chain("plan") == ["b", "a"]
    assert router.chain("extract") == ["a"]
    assert router.models() == ["a", "b"]
    with pytest.raises(ValueError, match="known kinds"):
        router.chain("summarise")


def test_unknown_route_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown task kind"):
        Router(Settings(routes={"planning": ["a"]}))


async def test_falls_back_to_the_next_model_on_failure() -> None:
    a = ScriptedModel([ModelError("HTTP 400 bad request")])
    b = ScriptedModel(["from b"], name="b")
    router, sleeps, _ = make_router(routes={"extract": ["a", "b"]}, a=a, b=b)
    out = await router.acomplete("extract", Q)
    assert out.text == "from b" and out.model == "b"
    assert len(a.calls) == 1 and sleeps.delays == []  # not retryable: no retry


async def test_all_models_failing_names_each_failure() -> None:
    a = ScriptedModel([ModelError("a broke")])
    b = ScriptedModel([ModelError("b broke")])
    router, _, _ = make_router(routes={"verify": ["a", "b"]}, a=a, b=b)
    with pytest.raises(AllModelsFailed) as info:
        await router.acomplete("verify", Q)
    assert [name for name, _ in info.value.failures] == ["a", "b"]
    assert "a broke" in str(info.value) and "b broke" in str(info.value)
    assert isinstance(info.value, ModelError) and not info.value.retryable


async def test_retries_retryable_errors_with_backoff() -> None:
    a = ScriptedModel([ModelError("503", retryable=True), ModelError("503", retryable=True), "ok"])
    router, sleeps, _ = make_router(a=a)
    out = await router.acomplete("plan", Q)
    assert out.text == "ok" and len(a.calls) == 3
    assert sleeps.delays == [0.5, 1.0]


async def test_gives_up_after_max_attempts() -> None:
    a = ScriptedModel(default=ModelError("503", retryable=True))
    router, sleeps, _ = make_router(a=a)
    with pytest.raises(AllModelsFailed) as info:
        await router.acomplete("plan", Q)
    assert len(a.calls) == 3 and len(sleeps.delays) == 2
    assert info.value.retryable


async def test_retry_after_is_honoured() -> None:
    a = ScriptedModel([ModelError("429", retryable=True, retry_after_s=7.0), "ok"])
    router, sleeps, _ = make_router(a=a)
    assert (await router.acomplete("plan", Q)).text == "ok"
    assert sleeps.delays == [7.0]


async def test_a_long_retry_after_falls_back_instead_of_waiting() -> None:
    a = ScriptedModel([ModelError("429", retryable=True, retry_after_s=3600.0)])
    b = ScriptedModel(["b"])
    router, sleeps, _ = make_router(routes={"plan": ["a", "b"]}, a=a, b=b)
    assert (await router.acomplete("plan", Q)).text == "b"
    assert sleeps.delays == []


async def test_a_hanging_call_times_out_and_is_retried() -> None:
    a = ScriptedModel([HANG, "second try"])
    router, _, _ = make_router(a=a)
    out = await router.acomplete("plan", Q, timeout_s=0.02)
    assert out.text == "second try" and len(a.calls) == 2


async def test_timeout_comes_from_the_model_entry() -> None:
    a = ScriptedModel([HANG, HANG, HANG])
    router, _, _ = make_router(models={"a": ModelEntry(timeout_s=0.01)}, a=a)
    with pytest.raises(AllModelsFailed, match=r"no answer within 0.01s"):
        await router.acomplete("plan", Q)


async def test_circuit_opens_after_consecutive_failures_and_probes_after_cooldown() -> None:
    a = ScriptedModel(default=ModelError("down", retryable=True))
    b = ScriptedModel(default="b")
    router, _, clock = make_router(routes={"plan": ["a", "b"]}, a=a, b=b)

    assert (await router.acomplete("plan", Q)).text == "b"  # 3 failed attempts open a
    assert router.breaker.state("a") == "open" and len(a.calls) == 3

    assert (await router.acomplete("plan", Q)).text == "b"
    assert len(a.calls) == 3  # skipped while open

    clock.now += 11
    assert router.breaker.state("a") == "half-open"
    a.default = "a is back"
    assert (await router.acomplete("plan", Q)).text == "a is back"
    assert router.breaker.state("a") == "closed"


async def test_a_failed_probe_reopens_the_circuit_without_retrying() -> None:
    a = ScriptedModel(default=ModelError("down", retryable=True))
    b = ScriptedModel(default="b")
    router, _, clock = make_router(routes={"plan": ["a", "b"]}, a=a, b=b)
    await router.acomplete("plan", Q)
    clock.now += 11
    await router.acomplete("plan", Q)
    assert len(a.calls) == 4  # one probe, no retries on an open circuit
    assert router.breaker.state("a") == "open"


async def test_skipped_models_are_reported_when_nothing_answers() -> None:
    a = ScriptedModel(default=ModelError("down", retryable=True))
    router, _, _ = make_router(a=a)
    with pytest.raises(AllModelsFailed):
        await router.acomplete("plan", Q)
    with pytest.raises(AllModelsFailed, match="circuit open"):
        await router.acomplete("plan", Q)


async def test_success_resets_the_failure_count() -> None:
    errors = [ModelError("x", retryable=True)] * 2
    a = ScriptedModel([*errors, "ok", *errors, "ok"])
    router, _, _ = make_router(a=a)
    await router.acomplete("plan", Q)
    await router.acomplete("plan", Q)
    assert router.breaker.state("a") == "closed"


async def test_charges_the_bound_meter_for_every_attempt(meter: BudgetMeter) -> None:
    answer = Completion("ok", usage=Usage(input_tokens=30, output_tokens=5, model_calls=1))
    a = ScriptedModel([ModelError("503", retryable=True), answer])
    router, _, _ = make_router(a=a)
    await router.acomplete("plan", Q)
    assert meter.used.model_calls == 2
    assert (meter.used.input_tokens, meter.used.output_tokens) == (30, 5)


async def test_max_tokens_is_capped_by_the_budget_and_the_model_entry(
    meter: BudgetMeter,
) -> None:
    meter.charge(Usage(input_tokens=900))
    a = ScriptedModel(["x", "y"])
    router, _, _ = make_router(models={"a": ModelEntry(max_tokens=50)}, a=a)
    await router.acomplete("plan", Q, max_tokens=500)
    assert a.calls[0].max_tokens == 50
    meter.charge(Usage(input_tokens=70))  # 30 tokens left
    await router.acomplete("plan", Q, max_tokens=500)
    assert a.calls[1].max_tokens < 30


async def test_budget_exceeded_propagates_and_stops_calling(meter: BudgetMeter) -> None:
    big = Completion("long", usage=Usage(input_tokens=2000, model_calls=1))
    a = ScriptedModel([big, "never"])
    b = ScriptedModel(["never"])
    router, _, _ = make_router(routes={"plan": ["a", "b"]}, a=a, b=b)
    with pytest.raises(BudgetExceeded, match="tokens"):
        await router.acomplete("plan", Q)
    with pytest.raises(BudgetExceeded):
        await router.acomplete("plan", Q)
    assert len(a.calls) == 1 and b.calls == []


async def test_model_call_limit_is_checked_before_calling() -> None:
    m = BudgetMeter(Budget(max_model_calls=1))
    token = bind_meter(m)
    try:
        a = ScriptedModel(default="x")
        router, _, _ = make_router(a=a)
        await router.acomplete("plan", Q)
        with pytest.raises(BudgetExceeded, match="model_calls"):
            await router.acomplete("plan", Q)
        assert len(a.calls) == 1
    finally:
        unbind_meter(token)


async def test_missing_api_key_is_a_config_error_not_a_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    b = ScriptedModel(["b"])
    settings = Settings(model="b", routes={"plan": ["anthropic:claude-haiku-4-5", "b"]})
    router = Router(settings, providers={"b": b})
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        await router.acomplete("plan", Q)
    assert b.calls == []


def test_sync_complete_sees_the_callers_meter(meter: BudgetMeter) -> None:
    router, _, _ = make_router(a=ScriptedModel(["x"]))
    assert router.complete("plan", Q).text == "x"
    assert meter.used.model_calls == 1


async def test_sync_complete_inside_a_loop_sees_the_callers_meter(meter: BudgetMeter) -> None:
    router, _, _ = make_router(a=ScriptedModel(["x"]))
    assert router.complete("plan", Q).text == "x"
    assert meter.used.model_calls == 1


async def test_passes_request_options_through() -> None:
    a = ScriptedModel(['{"x": 1}'])
    router, _, _ = make_router(a=a)
    out = await router.acomplete(
        "extract", Q, json_schema={"type": "object"}, temperature=0.3, logprobs=True
    )
    call = a.last_call
    assert out.parsed == {"x": 1}
    assert (call.temperature, call.logprobs, call.json_schema) == (0.3, True, {"type": "object"})


async def test_a_call_can_name_its_own_chain() -> None:
    a, b = ScriptedModel(["a"]), ScriptedModel(["b"])
    router, _, _ = make_router(a=a, b=b)
    assert (await router.acomplete("escalate", Q, models=["b"])).text == "b"
    assert a.calls == []


async def test_an_open_circuit_says_why_it_opened() -> None:
    a = ScriptedModel(default=ModelError("a: cannot connect to http://h:1/v1", retryable=True))
    router, _, _ = make_router(a=a)
    with pytest.raises(AllModelsFailed):
        await router.acomplete("plan", Q)
    with pytest.raises(AllModelsFailed) as info:
        await router.acomplete("plan", Q)
    message = str(info.value)
    assert "circuit open for 10.0s more" in message
    assert "after 3 failed attempt(s); last error: a: cannot connect to http://h:1/v1" in message


async def test_a_dead_endpoint_is_reported_with_its_cause() -> None:
    """A real OpenAI-compatible provider on a port nobody listens on: the second call,
    skipped by the open circuit, still names the endpoint and the socket's reason."""
    import socket

    from veritask.models.openai_provider import OpenAIProvider

    with socket.socket() as s:  # a free port, closed again: connecting is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    dead = OpenAIProvider("m", settings=Settings(), base_url=url, api_key="k")
    router = Router(
        Settings(model="openai:m"),
        providers={"openai:m": dead},
        retry=RetryPolicy(max_attempts=3, backoff=Backoff(initial_s=0.0, jitter=0)),
        sleep=Sleeps(),
    )
    with pytest.raises(AllModelsFailed):
        await router.acomplete("plan", Q)
    with pytest.raises(AllModelsFailed) as info:
        await router.acomplete("plan", Q)
    message = str(info.value)
    assert "circuit open for" in message
    assert f"cannot connect to {url}: connection refused" in message
    await router.aclose()
