from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    FakeMessagesListChatModel,
)
from langchain_core.messages import AIMessage
from pydantic import Field

from veritask.config import Settings
from veritask.errors import ModelError
from veritask.models import LangChainModel, ModelProvider, Router, system, user


class Recording(FakeListChatModel):
    """A fake chat model that keeps the messages and kwargs it was called with."""

    seen: list[Any] = Field(default_factory=list)

    def _call(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> str:
        self.seen.append((messages, kw))
        return super()._call(messages, stop, run_manager, **kw)


async def test_text_answers_and_message_conversion() -> None:
    fake = Recording(responses=["Paris"])
    model = LangChainModel(fake)
    assert isinstance(model, ModelProvider) and model.name == "langchain:Recording"
    out = await model.acomplete([system("One word."), user("Capital of France?")], max_tokens=7)
    assert out.text == "Paris" and out.usage.model_calls == 1
    assert out.usage.input_tokens > 0 and out.usage.output_tokens > 0  # estimated
    messages, kwargs = fake.seen[0]
    assert [(m.type, m.content) for m in messages] == [
        ("system", "One word."),
        ("human", "Capital of France?"),
    ]
    assert kwargs["max_tokens"] == 7 and kwargs["temperature"] == 0.0


async def test_json_schema_without_native_support_is_prompted_and_parsed() -> None:
    fake = Recording(responses=['```json\n{"city": "Paris"}\n```'])
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    out = await LangChainModel(fake).acomplete([user("Where?")], json_schema=schema)
    assert out.parsed == {"city": "Paris"}
    instruction = fake.seen[0][0][0]
    assert instruction.type == "system" and '"city"' in instruction.content


async def test_non_json_answer_to_a_schema_is_a_model_error() -> None:
    fake = FakeListChatModel(responses=["I think Paris"])
    with pytest.raises(ModelError, match="invalid JSON"):
        await LangChainModel(fake).acomplete([user("?")], json_schema={"type": "object"})


async def test_usage_metadata_is_used_when_reported() -> None:
    reply = AIMessage(
        content="42",
        usage_metadata={"input_tokens": 31, "output_tokens": 2, "total_tokens": 33},
    )
    out = await LangChainModel(FakeMessagesListChatModel(responses=[reply])).acomplete([user("?")])
    assert (out.usage.input_tokens, out.usage.output_tokens) == (31, 2)


class Failing(FakeListChatModel):
    error: Any = None

    def _call(self, *args: Any, **kwargs: Any) -> str:
        raise self.error


class RateLimited(Exception):
    status_code = 429


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (TimeoutError("slow"), True),
        (ConnectionError("refused"), True),
        (RateLimited("too many"), True),
        (ValueError("bad input"), False),
    ],
)
async def test_exceptions_become_model_errors(error: Exception, retryable: bool) -> None:
    model = LangChainModel(Failing(responses=["x"], error=error))
    with pytest.raises(ModelError) as info:
        await model.acomplete([user("?")])
    assert info.value.retryable is retryable
    cause = info.value.__cause__
    assert type(cause) is type(error) and str(cause) == str(error)


async def test_works_behind_the_router_with_n_samples() -> None:
    fake = FakeListChatModel(responses=["a", "b", "a"])
    router = Router(Settings(model="lc"), providers={"lc": LangChainModel(fake, name="lc")})
    out = await router.acomplete("verify", [user("?")], n=3, temperature=0.7)
    assert out.texts == ["a", "b", "a"] and out.model == "lc"
