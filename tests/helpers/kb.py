"""The small knowledge base the kb tests answer from: the kitchen-manual fixture, ingested."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from veritask.memory.kb import KnowledgeBase

FIXTURE = Path(__file__).parents[1] / "memory" / "kb_fixture"


def ingest_manual(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Copy the fixture documents, ingest them as KB `manual`, and point
    VERITASK_KB_DIR at it (so `knowledge=["manual"]` finds it); the KB's directory."""
    shutil.copytree(FIXTURE, tmp_path / "docs")
    monkeypatch.setenv("VERITASK_KB_DIR", str(tmp_path / "kb"))
    with KnowledgeBase("manual", directory=tmp_path / "kb") as kb:
        kb.ingest([tmp_path / "docs"])
    return tmp_path / "kb"
