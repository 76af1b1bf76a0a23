"""The Backend protocol: run one tool call with a timeout, somewhere."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from veritask.tools.registry import ToolSpec


@runtime_checkable
class Backend(Protocol):
    """Runs one tool call. Raises `TaskTimeout` past `timeout_s`, `ToolError` on a
    failure it can describe; anything else it raises is the tool's own exception."""

    async def call(
        self, spec: ToolSpec, args: dict[str, Any], *, task_id: str, timeout_s: float | None
    ) -> Any: ...

    async def aclose(self) -> None: ...
