"""The Backend protocol: run one tool call with a timeout, somewhere."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol, runtime_checkable

from veritask.tools.registry import ToolSpec

current_run_id: ContextVar[str | None] = ContextVar("veritask_current_run_id", default=None)
"""The run a tool call belongs to, set by the driver: remote backends put it in the
attempt's idempotency key (run_id, task_id, attempt)."""

OUTCOME_UNKNOWN = "OutcomeUnknown"
"""`ToolError.kind` of a call whose effect cannot be known (its remote worker died
mid-call and the tool is not idempotent): the task is recorded `unknown`, not failed."""


@runtime_checkable
class Backend(Protocol):
    """Runs one tool call. Raises `TaskTimeout` past `timeout_s`, `ToolError` on a
    failure it can describe; anything else it raises is the tool's own exception."""

    async def call(
        self, spec: ToolSpec, args: dict[str, Any], *, task_id: str, timeout_s: float | None
    ) -> Any: ...

    async def aclose(self) -> None: ...
