"""What a model call costs, in USD per million tokens.

The shipped table covers common OpenAI and Anthropic models at their list
prices (late 2025). Prices change and dated snapshots multiply, so:

- a model id matches the longest table key it starts with
  (``gpt-4o-mini-2024-07-18`` → ``gpt-4o-mini``);
- ``[models."openai:my-model"]`` in veritask.toml (`input_usd_per_mtok`,
  `output_usd_per_mtok`) overrides the table for that model;
- ``local:`` models cost nothing;
- an unknown remote model costs 0 and `price_for` returns None, so a caller
  that enforces a USD budget can warn that it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass

from veritask.config import ModelEntry, Settings


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million input and output tokens."""

    input_usd_per_mtok: float
    output_usd_per_mtok: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (
            input_tokens * self.input_usd_per_mtok + output_tokens * self.output_usd_per_mtok
        ) / 1_000_000


FREE = Price(0.0, 0.0)

DEFAULT_PRICES: dict[str, Price] = {
    # OpenAI
    "gpt-5": Price(1.25, 10.0),
    "gpt-5-mini": Price(0.25, 2.0),
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-4.1": Price(2.0, 8.0),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4o": Price(2.50, 10.0),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4-turbo": Price(10.0, 30.0),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o1": Price(15.0, 60.0),
    "o1-mini": Price(1.10, 4.40),
    "o3": Price(2.0, 8.0),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
    # Anthropic
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-opus-4-1": Price(15.0, 75.0),
    "claude-opus-4": Price(15.0, 75.0),
    "claude-sonnet-4-5": Price(3.0, 15.0),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-3-7-sonnet": Price(3.0, 15.0),
    "claude-3-5-sonnet": Price(3.0, 15.0),
    "claude-3-5-haiku": Price(0.80, 4.0),
    "claude-3-opus": Price(15.0, 75.0),
    "claude-3-haiku": Price(0.25, 1.25),
}


def split_name(name: str) -> tuple[str, str]:
    """``"openai:gpt-4o"`` → ``("openai", "gpt-4o")``; a bare id has no provider."""
    provider, sep, model = name.partition(":")
    return (provider, model) if sep else ("", name)


def model_entry(name: str, settings: Settings | None) -> ModelEntry:
    """The `[models]` entry for `name`, looked up by full name then by bare model id."""
    if settings is None:
        return ModelEntry()
    entry = settings.models.get(name)
    if entry is None:
        entry = settings.models.get(split_name(name)[1])
    return entry or ModelEntry()


def price_for(name: str, settings: Settings | None = None) -> Price | None:
    """The price of model `name` (``provider:model``), or None when it is unknown."""
    provider, model = split_name(name)
    entry = model_entry(name, settings)
    shipped = FREE if provider == "local" else _lookup(model)
    if entry.input_usd_per_mtok is None and entry.output_usd_per_mtok is None:
        return shipped
    base = shipped or FREE
    return Price(
        entry.input_usd_per_mtok
        if entry.input_usd_per_mtok is not None
        else base.input_usd_per_mtok,
        entry.output_usd_per_mtok
        if entry.output_usd_per_mtok is not None
        else base.output_usd_per_mtok,
    )


def cost_usd(
    name: str, input_tokens: int, output_tokens: int, settings: Settings | None = None
) -> float:
    """USD for one call; 0 for local or unknown models."""
    price = price_for(name, settings)
    return price.cost(input_tokens, output_tokens) if price else 0.0


def _lookup(model: str) -> Price | None:
    model = model.rsplit("/", 1)[-1]  # "openai/gpt-4o" on gateways such as OpenRouter
    best = ""
    for key in DEFAULT_PRICES:
        if (model == key or model.startswith(key + "-")) and len(key) > len(best):
            best = key
    return DEFAULT_PRICES.get(best) if best else None


__all__ = ["DEFAULT_PRICES", "FREE", "Price", "cost_usd", "model_entry", "price_for", "split_name"]
