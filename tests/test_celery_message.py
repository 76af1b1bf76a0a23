"""What a Celery worker sends back keeps everything a tool said (no broker needed)."""

from __future__ import annotations

from veritask.runtime.backends.celery import _call, unpack
from veritask.tools import ToolRegistry
from veritask.tools.registry import ToolResult
from veritask.types import Confidence


def test_a_tool_result_with_no_answer_crosses_the_worker_boundary_as_such() -> None:
    reg = ToolRegistry()

    @reg.tool
    def find(key: str) -> ToolResult:
        """A look-up that may find nothing."""
        return ToolResult(None, confidence=Confidence(score=0.0), no_answer=f"no {key}")

    got = unpack(_call(reg, "find", {"key": "k"}))
    assert isinstance(got, ToolResult)
    assert got.value is None and got.no_answer == "no k"
    assert got.confidence is not None and got.confidence.score == 0.0
