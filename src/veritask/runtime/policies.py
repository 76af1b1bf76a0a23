"""Effective task policies: task over tool defaults over run policy over built-in defaults.

Kept apart from the scheduler so both it and the baseline modes (which run
tool calls without a plan) merge policies the same way.
"""

from __future__ import annotations

from veritask.tools.registry import ToolRegistry
from veritask.types import DEFAULT_POLICY, Plan, Policy, Task


def effective_policy(task: Task, registry: ToolRegistry, run_policy: Policy) -> Policy:
    """Task policy over tool defaults over run policy over built-in defaults."""
    policy = run_policy.merged_over(DEFAULT_POLICY)
    if task.tool in registry:
        spec = registry.get(task.tool)
        tool_policy = Policy(
            timeout_s=spec.timeout_s,
            max_attempts=None if spec.retries is None else spec.retries + 1,
        )
        policy = tool_policy.merged_over(policy)
    if task.policy is not None:
        policy = task.policy.merged_over(policy)
    return policy


def plan_policies(plan: Plan, registry: ToolRegistry, run_policy: Policy) -> dict[str, Policy]:
    """Effective policy per task, merged once per tool (most tasks set no policy)."""
    per_tool: dict[str, Policy] = {}
    out = {}
    for task in plan.tasks:
        if task.policy is not None:
            out[task.id] = effective_policy(task, registry, run_policy)
            continue
        if task.tool not in per_tool:
            per_tool[task.tool] = effective_policy(task, registry, run_policy)
        out[task.id] = per_tool[task.tool]
    return out


__all__ = ["effective_policy", "plan_policies"]
