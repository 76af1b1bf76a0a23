"""Fixtures for the baseline-mode tests."""

from __future__ import annotations

import pytest

from modes._helpers import MakeOrch, make_scripted


@pytest.fixture
def scripted() -> MakeOrch:
    """`scripted([...answers], **orchestrator_kwargs)` → (orchestrator, its scripted model)."""
    return make_scripted
