"""Shared fixtures: a private tool registry per test and run stores under tmp_path.

Tests never use the working directory's `.veritask/` store: every orchestrator
gets an explicit store (a tmp_path SQLite file or `memory://`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from veritask.tools import ToolRegistry, default_registry

# The embedded model's states kept on disk for later processes (`model_state_dir`)
# would make a test's first prompt depend on what earlier runs left in the user's
# cache: off for every test and the processes they start, except where a test
# gives its own directory (tests/models/test_local_disk_states.py).
os.environ["VERITASK_MODEL_STATE_DIR"] = ""


@pytest.fixture
def registry() -> ToolRegistry:
    """A fresh registry holding only the built-in `calc` tool."""
    reg = ToolRegistry()
    reg.add(default_registry().get("calc"))
    return reg


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """An SQLite run store in this test's tmp_path."""
    return f"sqlite:///{tmp_path}/runs.db"
