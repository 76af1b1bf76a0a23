"""Memory for the planner: episodic plan memory and the entity abstraction it relies on."""

from __future__ import annotations

from veritask.memory.abstraction import abstract, concretise
from veritask.memory.episodic import Episode, PlanMemory, default_memory_path

__all__ = ["Episode", "PlanMemory", "abstract", "concretise", "default_memory_path"]
