"""Fault injectors: deterministic per (seed, key, call), at roughly the asked rate, and real."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

import veritask.testing as vt
from veritask.errors import ModelError, TaskTimeout, ToolError
from veritask.models import ScriptedModel as ModelsScriptedModel
from veritask.models import user
from veritask.runtime.backends.inline import InlineBackend
from veritask.testing import (
    MODEL_FAULTS,
    TOOL_FAULTS,
    FaultInjector,
    FaultyModel,
    ScriptedModel,
    fault_for,
    faulty_registry,
)
from veritask.tools import ToolRegistry, default_registry


def test_scripted_model_is_the_public_one() -> None:
    assert ScriptedModel is ModelsScriptedModel
    assert set(vt.__all__) >= {"ScriptedModel", "FaultInjector", "FaultyModel", "faulty_registry"}


def test_decisions_are_deterministic_per_seed_key_and_index() -> None:
    def run(seed: int, key: str) -> list[str | None]:
        inj = FaultInjector(0.3, seed=seed, key=key)
        return [inj.decide("tool", TOOL_FAULTS) for _ in range(200)]

    assert run(1, "q1") == run(1, "q1")
    assert run(1, "q1") != run(2, "q1")
    assert run(1, "q1") != run(1, "q2")
    assert fault_for(0.3, 1, "q1", "tool", 5, TOOL_FAULTS) == run(1, "q1")[5]


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5, 1.0])
def test_faults_happen_at_roughly_the_rate(rate: float) -> None:
    inj = FaultInjector(rate, seed=0, key="k")
    kinds = [inj.decide("model", MODEL_FAULTS) for _ in range(4000)]
    share = sum(k is not None for k in kinds) / len(kinds)
    assert share == pytest.approx(rate, abs=0.03)
    assert len(inj.injected) == sum(k is not None for k in kinds)
    if rate >= 0.2:  # every kind shows up
        assert set(Counter(k for k in kinds if k)) == set(MODEL_FAULTS)


def test_rate_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultInjector(1.5)


def _registry() -> ToolRegistry:
    reg = ToolRegistry()
    reg.add(default_registry().get("country_facts"))
    reg.get("country_facts").fn("France")  # load the data outside the short timeout
    return reg


async def _call_many(inj: FaultInjector, n: int) -> Counter[str]:
    spec = faulty_registry(_registry(), inj, timeout_s=0.2).get("country_facts")
    backend = InlineBackend()
    seen: Counter[str] = Counter()
    try:
        for i in range(n):
            try:
                got = await backend.call(
                    spec, {"country": "France"}, task_id=f"t{i}", timeout_s=spec.timeout_s
                )
            except TaskTimeout:
                seen["timeout"] += 1
            except ToolError as exc:
                assert exc.retryable
                seen["transient"] += 1
            else:
                value = got.value if hasattr(got, "value") else got
                seen[
                    "ok" if isinstance(value, dict) and "population" in value else "malformed"
                ] += 1
    finally:
        await backend.aclose()
    return seen


def test_faulty_tools_really_fail_in_each_way() -> None:
    inj = FaultInjector(0.5, seed=4, key="q")
    seen = asyncio.run(_call_many(inj, 40))
    assert seen == Counter({"ok": seen["ok"], **inj.counts()})
    assert set(inj.counts()) == set(TOOL_FAULTS)
    assert 10 <= sum(inj.counts().values()) <= 30


def test_no_faults_means_the_real_tool() -> None:
    seen = asyncio.run(_call_many(FaultInjector(0.0), 5))
    assert seen == Counter({"ok": 5})


async def test_faulty_model_errors_are_retryable_and_garbage_is_not_json() -> None:
    inner = ScriptedModel(default='{"ok": true}', name="inner")
    model = FaultyModel(inner, FaultInjector(1.0, seed=1, key="m"))
    assert model.name == "inner"
    outcomes: Counter[str] = Counter()
    for _ in range(60):
        try:
            got = await model.acomplete([user("hi")], json_schema={"type": "object"})
        except ModelError as exc:
            outcomes["retryable" if exc.retryable else "bad-json"] += 1
        else:
            outcomes[f"text:{got.text}"] += 1
    assert outcomes["retryable"] > 0 and outcomes["bad-json"] > 0
    assert not [k for k in outcomes if k.startswith("text:")]  # garbage never parses
    assert inner.calls == []  # every call was faulted, none reached the model


async def test_faulty_model_passes_through_when_no_fault() -> None:
    inner = ScriptedModel(["hello"], name="inner")
    got = await FaultyModel(inner, FaultInjector(0.0)).acomplete([user("hi")])
    assert got.text == "hello" and len(inner.calls) == 1
