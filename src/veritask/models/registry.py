"""From a model name (``local:smollm2-135m``, ``openai:gpt-4o-mini``, ...) to a provider.

The prefix picks the provider; the rest is the model id that provider
understands. LangChain models and test doubles have no string form: pass the
object itself in ``Router(providers={"my-name": LangChainModel(...)})``.
"""

from __future__ import annotations

import importlib.util

from veritask.config import Settings
from veritask.errors import ConfigError
from veritask.models.base import ModelProvider
from veritask.models.prices import split_name

PREFIXES = ("local", "openai", "anthropic")


def get_provider(name: str, settings: Settings | None = None) -> ModelProvider:
    """A provider for `name`. Raises ConfigError for an unknown prefix, a missing
    SDK, a missing API key or a missing local model file (each message says
    what to do)."""
    prefix, model = split_name(name)
    if prefix not in PREFIXES or not model:
        raise ConfigError(
            f"unknown model {name!r}: use local:NAME, openai:MODEL or anthropic:MODEL "
            f"(e.g. local:smollm2-135m, openai:gpt-4o-mini); LangChain models are passed "
            f"as objects: Router(providers={{'name': LangChainModel(chat_model)}})"
        )
    if prefix == "local":
        from veritask.models.local import LocalProvider

        return LocalProvider(model, settings=settings)
    _require_sdk(prefix, name)
    if prefix == "openai":
        from veritask.models.openai_provider import OpenAIProvider

        return OpenAIProvider(model, settings=settings)
    from veritask.models.anthropic_provider import AnthropicProvider

    return AnthropicProvider(model, settings=settings)


def _require_sdk(module: str, name: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"{name} needs the `{module}` package: pip install 'veritask[models]'")


__all__ = ["PREFIXES", "get_provider"]
