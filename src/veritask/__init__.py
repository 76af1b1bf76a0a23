"""veritask: reliable LLM work as validated plans of small, confident tasks."""

from __future__ import annotations

from veritask.tools import tool
from veritask.types import Plan, Policy, Task

__all__ = ["Plan", "Policy", "Task", "tool"]
