from __future__ import annotations

import pytest

from veritask.config import ModelEntry, Settings
from veritask.models import cost_usd, price_for
from veritask.models.prices import DEFAULT_PRICES


def test_dated_snapshots_match_the_longest_prefix() -> None:
    assert price_for("openai:gpt-4o-mini-2024-07-18") == DEFAULT_PRICES["gpt-4o-mini"]
    assert price_for("openai:gpt-4o-2024-08-06") == DEFAULT_PRICES["gpt-4o"]
    assert price_for("anthropic:claude-sonnet-4-5-20250929") == DEFAULT_PRICES["claude-sonnet-4-5"]
    assert price_for("anthropic:claude-3-5-haiku-latest") == DEFAULT_PRICES["claude-3-5-haiku"]


def test_cost_is_per_million_tokens() -> None:
    # gpt-4o-mini: $0.15 in, $0.60 out per million
    assert cost_usd("openai:gpt-4o-mini", 1_000_000, 500_000) == pytest.approx(0.45)


def test_local_models_are_free_and_unknown_models_unknown() -> None:
    assert cost_usd("local:smollm2-135m", 10_000, 10_000) == 0
    assert price_for("openai:my-finetune") is None
    assert cost_usd("openai:my-finetune", 1000, 1000) == 0
    assert price_for("openai:gpt-4omni") is None  # a prefix must end at a "-"


def test_settings_override_the_table() -> None:
    settings = Settings(
        models={
            "openai:my-finetune": ModelEntry(input_usd_per_mtok=1.0, output_usd_per_mtok=2.0),
            "gpt-4o": ModelEntry(output_usd_per_mtok=20.0),
        }
    )
    assert cost_usd("openai:my-finetune", 1_000_000, 1_000_000, settings) == pytest.approx(3.0)
    price = price_for("openai:gpt-4o", settings)
    assert price is not None
    assert (price.input_usd_per_mtok, price.output_usd_per_mtok) == (2.5, 20.0)
