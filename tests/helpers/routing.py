"""A router over one scripted model, for planner tests that need no Router configuration."""

from __future__ import annotations

from typing import Any

from veritask.models import Completion, ScriptedModel


class ScriptedRouter:
    """Sends every task kind to the one scripted model (the planner asks by kind)."""

    def __init__(self, model: ScriptedModel) -> None:
        self.model = model

    async def acomplete(self, kind: str, messages: Any, **kw: Any) -> Completion:
        return await self.model.acomplete(messages, **kw)
