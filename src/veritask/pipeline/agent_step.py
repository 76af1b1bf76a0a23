"""Bounded deep agents inside a plan: the `deep_agent` step and a task's last rung.

A plan may hand a sub-goal that needs several steps of reasoning to an
agent: ``{"tool": "deep_agent", "args": {"goal": "…", "max_steps": 4}}``.
The same agent is the last rung of a task's escalation ladder, scoped to
that task's goal and inputs. Either way it is bounded three ways — model
turns (`max_steps`), tokens (its own meter, which also charges the run's)
and seconds — and its answer is kept only when every number and name in it
traces to its own tool results (`deep_agent.refusal`); otherwise the step
fails with the reason.

Its tool calls go to a scratch log in memory, not the run's log: they are
not plan tasks, and folding them into the run would make them look like
some. A run killed mid-agent therefore runs the agent again on resume,
which is why the agent is only given idempotent tools.
"""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from veritask.budget import BudgetMeter, bind_meter, current_meter, unbind_meter
from veritask.config import Budget
from veritask.errors import ToolError
from veritask.pipeline.deep_agent import agent_kind, capped, refusal, sourced
from veritask.runtime.backends.base import current_run_id
from veritask.runtime.eventlog import EventLog
from veritask.store.memory import MemoryRunStore
from veritask.tools.registry import ToolRegistry, ToolResult, ToolSpec, make_spec
from veritask.types import Answer, Outcome, Source

if TYPE_CHECKING:
    from veritask.pipeline.orchestrator import Orchestrator

MAX_AGENT_STEPS = 12
DEFAULT_AGENT_TOKENS = 6000
DEFAULT_AGENT_SECONDS = 120.0
MAX_AGENT_SECONDS = 600.0


@dataclass
class ScopedMeter(BudgetMeter):
    """A sub-budget: its own limits, and every charge also charged to the run's meter.

    The router caps a call by the tighter of the two, so an agent step cannot
    spend more than its share nor more than the run has left.
    """

    parent: BudgetMeter | None = field(default=None)

    def charge(self, usage: Any) -> None:
        if self.parent is not None:
            self.parent.charge(usage)
        super().charge(usage)

    def check(self) -> None:
        if self.parent is not None:
            self.parent.check()
        super().check()

    def remaining_tokens(self) -> int | None:
        mine = super().remaining_tokens()
        theirs = self.parent.remaining_tokens() if self.parent is not None else None
        return mine if theirs is None else theirs if mine is None else min(mine, theirs)

    def remaining_seconds(self) -> float | None:
        mine = super().remaining_seconds()
        theirs = self.parent.remaining_seconds() if self.parent is not None else None
        return mine if theirs is None else theirs if mine is None else min(mine, theirs)


@dataclass(frozen=True)
class AgentOutcome:
    """What a bounded agent concluded: a grounded answer, or why there is none."""

    answer: Answer | None
    reason: str
    outcomes: list[Outcome]
    steps: int = 0


def agent_registry(orch: Orchestrator) -> ToolRegistry:
    """The tools an agent may call: the run's idempotent, runnable ones, never itself."""
    return ToolRegistry(
        [
            spec
            for spec in orch.plan_registry()
            if spec.idempotent and not spec.declared_only and spec.name != "deep_agent"
        ]
    )


async def run_agent(
    orch: Orchestrator,
    goal: str,
    *,
    max_steps: int,
    max_tokens: int | None,
    max_seconds: float,
) -> AgentOutcome:
    """Run a bounded agent toward `goal`; its answer only if grounded in its own look-ups."""
    from veritask.pipeline.modes.single_agent import AgentSettings, run_single_agent
    from veritask.runtime.state import fold

    scoped = copy.copy(orch)  # the same router, store and options, fewer tools
    scoped.registry = agent_registry(orch)
    scratch = EventLog(MemoryRunStore(), f"{current_run_id.get() or 'run'}:agent")
    parent = current_meter()
    meter = ScopedMeter(Budget(max_tokens=max_tokens, max_seconds=max_seconds), parent=parent)
    token = bind_meter(meter)
    try:
        answer = await asyncio.wait_for(
            run_single_agent(
                goal, scoped, scratch, AgentSettings(max_steps=max_steps, kind=agent_kind(orch))
            ),
            max_seconds,
        )
    except TimeoutError:
        return AgentOutcome(None, f"no answer within its {max_seconds:g} s", [])
    finally:
        unbind_meter(token)
    if parent is not None:
        parent.check()  # the run's own budget ran out: that stops the run, not just this step
    scratch.flush()
    looked_up = [o for o in fold(scratch.store.events(scratch.run_id)).outcomes.values() if o.ok]
    outcomes = sourced(looked_up, goal)
    steps = int(answer.confidence.signals.get("steps", 0) or 0)
    reason = refusal(answer, outcomes, goal)
    return AgentOutcome(None if reason else answer, reason, outcomes, steps)


def agent_result(got: AgentOutcome, query: dict[str, Any], rung: str) -> ToolResult:
    """A grounded agent answer as a task result: its value, its sources, a capped confidence."""
    answer = got.answer
    assert answer is not None
    own = Source(
        tool="deep_agent",
        query=query,
        fields={"answer": answer.text, "steps": got.steps, "tool_calls": len(got.outcomes)},
    )
    evidence = [own, *(e for o in got.outcomes for e in o.evidence)]
    value = answer.value if answer.value is not None else answer.text
    return ToolResult(value, evidence, capped(answer, rung))


def deep_agent_spec(orch: Orchestrator | None) -> ToolSpec:
    """The `deep_agent` tool bound to `orch` (its router and tools), as plans call it.

    With `orch=None`, the same tool for a toolkit to offer the planner; an
    Orchestrator replaces it with its bound one before anything runs it.
    """

    async def deep_agent(
        goal: str,
        max_steps: Annotated[int, Field(ge=1, le=MAX_AGENT_STEPS)] = 4,
        max_tokens: Annotated[int, Field(ge=1)] = DEFAULT_AGENT_TOKENS,
        max_seconds: Annotated[float, Field(gt=0, le=MAX_AGENT_SECONDS)] = DEFAULT_AGENT_SECONDS,
    ) -> ToolResult:
        """Reach a sub-goal in a few steps with the run's tools (a bounded agent); its answer
        must be grounded in its own tool results, or the step fails with the reason.

        Args:
            goal: the sub-goal, as a question.
            max_steps: model turns at most.
            max_tokens: tokens the agent may spend.
            max_seconds: wall time the agent may take.
        """
        if orch is None:
            raise ToolError("deep_agent runs inside an Orchestrator (it binds model and tools)")
        got = await run_agent(
            orch, goal, max_steps=max_steps, max_tokens=max_tokens, max_seconds=max_seconds
        )
        if got.answer is None:
            raise ToolError(f"deep_agent: {got.reason}", kind="DeepAgentFailed")
        query = {"goal": goal, "max_steps": max_steps}
        return agent_result(got, query, "deep_agent_step")

    return make_spec(
        deep_agent, name="deep_agent", idempotent=True, timeout_s=MAX_AGENT_SECONDS + 30
    )


def scoped_goal(description: str, tool: str, args: dict[str, Any], limit: int = 1500) -> str:
    """A task's goal and inputs as a question for the agent rung."""
    inputs = json.dumps(args, ensure_ascii=False, default=str)
    if len(inputs) > limit:
        inputs = inputs[: limit - 1] + "…"
    return f"{description or 'Do what ' + tool + ' does'}. Inputs: {inputs}"


__all__ = [
    "AgentOutcome",
    "ScopedMeter",
    "agent_registry",
    "agent_result",
    "deep_agent_spec",
    "run_agent",
    "scoped_goal",
]
