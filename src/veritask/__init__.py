"""veritask: reliable LLM work as validated plans of small, confident tasks."""

from __future__ import annotations

# First, before anything loads numpy or llama.cpp: see veritask._threads.
import veritask._threads  # noqa: F401
from veritask.config import Budget, Settings
from veritask.errors import (
    BudgetExceeded,
    ConfigError,
    PlanError,
    ToolError,
    UserError,
    VeritaskError,
)
from veritask.pipeline.orchestrator import Orchestrator
from veritask.runtime.result import RunResult
from veritask.tools import ToolRegistry, ToolResult, tool
from veritask.tools.questions import Question
from veritask.tools.toolkit import Toolkit
from veritask.types import (
    Answer,
    Backoff,
    Confidence,
    Event,
    Outcome,
    Plan,
    Policy,
    Source,
    Task,
    Usage,
)

__all__ = [
    "Answer",
    "Backoff",
    "Budget",
    "BudgetExceeded",
    "Confidence",
    "ConfigError",
    "Event",
    "Orchestrator",
    "Outcome",
    "Plan",
    "PlanError",
    "Policy",
    "Question",
    "RunResult",
    "Settings",
    "Source",
    "Task",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "Toolkit",
    "Usage",
    "UserError",
    "VeritaskError",
    "tool",
]
