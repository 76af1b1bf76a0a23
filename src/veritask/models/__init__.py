"""Model providers, the router that picks between them, and their test double.

    from veritask.models import Router, get_provider, user

    local = get_provider("local:smollm2-135m")           # embedded, no key, no server
    print(local.complete([user("Say hi")], max_tokens=8).text)

    completion = await Router().acomplete("extract", [user("...")], max_tokens=64)

Provider SDKs are imported lazily, so importing this package needs none of
them; a missing one is a ConfigError naming the extra to install.
"""

from __future__ import annotations

from veritask.models.base import (
    Choice,
    Completion,
    Message,
    ModelProvider,
    TokenLogprob,
    assistant,
    system,
    user,
)
from veritask.models.confidence import (
    logprob_confidence,
    normalize_answer,
    sample_consistency,
    self_consistency,
)
from veritask.models.langchain_adapter import LangChainModel
from veritask.models.prices import Price, cost_usd, price_for
from veritask.models.registry import get_provider
from veritask.models.router import (
    KINDS,
    AllModelsFailed,
    BreakerPolicy,
    RetryPolicy,
    Router,
)
from veritask.models.scripted import HANG, ScriptedCall, ScriptedModel, ScriptExhausted

__all__ = [
    "HANG",
    "KINDS",
    "AllModelsFailed",
    "BreakerPolicy",
    "Choice",
    "Completion",
    "LangChainModel",
    "Message",
    "ModelProvider",
    "Price",
    "RetryPolicy",
    "Router",
    "ScriptExhausted",
    "ScriptedCall",
    "ScriptedModel",
    "TokenLogprob",
    "assistant",
    "cost_usd",
    "get_provider",
    "logprob_confidence",
    "normalize_answer",
    "price_for",
    "sample_consistency",
    "self_consistency",
    "system",
    "user",
]
