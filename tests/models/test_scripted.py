from __future__ import annotations

import asyncio

import pytest

from veritask.errors import ModelError
from veritask.models import (
    HANG,
    Completion,
    ModelProvider,
    ScriptedModel,
    ScriptExhausted,
    system,
    user,
)
from veritask.types import Usage


async def test_replays_text_then_json_and_records_calls() -> None:
    model = ScriptedModel(["Paris", {"country": "France"}])
    first = await model.acomplete([system("be brief"), user("Capital of France?")], max_tokens=9)
    second = await model.acomplete([user("Where?")], json_schema={"type": "object"})

    assert first.text == "Paris" and first.parsed is None
    assert second.parsed == {"country": "France"} and second.text == '{"country": "France"}'
    assert [c.prompt for c in model.calls] == ["Capital of France?", "Where?"]
    assert model.calls[0].system == "be brief"
    assert model.calls[0].max_tokens == 9
    assert model.last_call.json_schema == {"type": "object"}
    assert first.usage.model_calls == 1 and first.usage.output_tokens > 0
    assert model.remaining == 0


async def test_text_answer_is_parsed_when_a_schema_was_asked() -> None:
    model = ScriptedModel(['{"n": 3}'])
    out = await model.acomplete([user("n?")], json_schema={"type": "object"})
    assert out.parsed == {"n": 3}


async def test_raises_queued_errors_instances_and_classes() -> None:
    model = ScriptedModel([ModelError("busy", retryable=True), TimeoutError])
    with pytest.raises(ModelError, match="busy") as info:
        await model.acomplete([user("x")])
    assert info.value.retryable
    with pytest.raises(TimeoutError):
        await model.acomplete([user("x")])
    assert len(model.calls) == 2


async def test_callables_compute_answers_from_the_call() -> None:
    async def shout(call):  # type: ignore[no-untyped-def]
        return call.prompt.upper()

    model = ScriptedModel([lambda call: f"{call.max_tokens} tokens", shout])
    assert (await model.acomplete([user("a")], max_tokens=5)).text == "5 tokens"
    assert (await model.acomplete([user("hey")])).text == "HEY"


async def test_completion_items_are_returned_with_their_usage() -> None:
    item = Completion("42", usage=Usage(input_tokens=100, output_tokens=2, model_calls=1))
    out = await ScriptedModel([item], name="m").acomplete([user("x")])
    assert out.usage.input_tokens == 100 and out.model == "m"


async def test_exhausted_script_fails_loudly_not_as_model_error() -> None:
    model = ScriptedModel(["only one"])
    await model.acomplete([user("1")])
    with pytest.raises(ScriptExhausted, match=r"call #2.*\.add\("):
        await model.acomplete([user("2")])
    assert not issubclass(ScriptExhausted, ModelError)


async def test_default_answers_when_the_script_is_empty_and_add_chains() -> None:
    model = ScriptedModel(default="fallback").add("a", "b")
    texts = [(await model.acomplete([user("q")])).text for _ in range(4)]
    assert texts == ["a", "b", "fallback", "fallback"]


async def test_n_samples_consume_one_item_each() -> None:
    model = ScriptedModel(["7", "7", "8"])
    out = await model.acomplete([user("q")], n=3, temperature=0.7)
    assert out.texts == ["7", "7", "8"] and out.text == "7"
    assert len(model.calls) == 1 and out.usage.model_calls == 1


async def test_hang_blocks_until_cancelled() -> None:
    model = ScriptedModel([HANG, "after"])
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(model.acomplete([user("q")]), 0.01)
    assert (await model.acomplete([user("q")])).text == "after"


async def test_token_prob_attaches_fake_logprobs_on_request() -> None:
    model = ScriptedModel(["the answer is 4", "x"], token_prob=0.5)
    out = await model.acomplete([user("q")], logprobs=True)
    assert out.token_logprobs is not None
    assert [t.token for t in out.token_logprobs] == ["the", " answer", " is", " 4"]
    assert out.token_logprobs[3].offset == len("the answer is")
    assert abs(out.token_logprobs[0].prob - 0.5) < 1e-9
    plain = await model.acomplete([user("q")])
    assert plain.token_logprobs is None


def test_is_a_model_provider_with_a_sync_twin() -> None:
    model = ScriptedModel(["sync"])
    assert isinstance(model, ModelProvider)
    assert model.complete([user("q")]).text == "sync"


async def test_sync_twin_works_inside_a_running_loop() -> None:
    model = ScriptedModel(["inside"])
    assert model.complete([user("q")]).text == "inside"


@pytest.mark.parametrize(
    ("messages", "kwargs"),
    [
        ([], {}),
        ([{"role": "robot", "content": "x"}], {}),
        ([{"role": "user", "content": 3}], {}),
        ([{"role": "user", "content": "x"}], {"max_tokens": 0}),
        ([{"role": "user", "content": "x"}], {"n": 0}),
    ],
)
async def test_bad_requests_are_value_errors(messages, kwargs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        await ScriptedModel(["x"]).acomplete(messages, **kwargs)
