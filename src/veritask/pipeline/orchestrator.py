"""Orchestrator: the Python entry point — answer questions, or run given plans.

It is the runtime (`veritask.runtime.executor.Runtime`: execute, resume)
plus what a question needs: a model router, the active toolkits, episodic
memory of plans that worked, and the question pipeline (`question.py`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from veritask.budget import BudgetMeter
from veritask.config import Budget, Settings, load_settings
from veritask.errors import UserError
from veritask.planner.catalog import Catalog
from veritask.planner.planner import Planner
from veritask.planner.relevance import Relevance
from veritask.runtime.backends import Backend
from veritask.runtime.eventlog import EventListener, EventLog
from veritask.runtime.executor import Runtime, load_plan, new_run_id, run_sync
from veritask.runtime.result import RunResult
from veritask.runtime.scheduler import Assembler, RuntimeOptions
from veritask.runtime.state import RunState
from veritask.store import RunStore, SQLiteRunStore
from veritask.tools.registry import ToolRegistry
from veritask.tools.toolkit import Toolkit, resolve_toolkits
from veritask.types import EventType, Plan, Policy

if TYPE_CHECKING:
    from veritask.models import ModelProvider, Router


class PlanMemoryLike(Protocol):
    """What the orchestrator needs from episodic memory (veritask.memory.episodic.PlanMemory)."""

    def similar(self, question: str, k: int = 3) -> list[Any]: ...

    def remember(
        self, question: str, plan: Plan, *, confidence: float, run_id: str = ""
    ) -> bool: ...


class Orchestrator(Runtime):
    """Answers questions (`run`) and runs given plans (`execute`), with a durable log.

    Args (besides the Runtime's store, registry, backend, budget, policy,
    concurrency, listeners, options):
        model: a model name (`local:smollm2-135m`, `openai:gpt-4o`) or provider.
        router: a ready Router (overrides `model` and the configured routes).
        memory: episodic plan memory; True/None = beside the run store, False = off.
        toolkits: the toolkits questions are planned with (objects or names).
            None means the configured ones (`toolkits` in veritask.toml,
            default `["geo"]`). Plans may still call any registered tool; the
            planner offers only the active toolkits' tools (and calc, larger,
            smaller).
        knowledge: knowledge base names (`veritask ingest … --kb NAME`); adds a `kb`
            toolkit bound to them (kb_search, kb_answer); with `toolkits=None` it
            replaces the configured default instead of joining it.
    """

    def __init__(
        self,
        store: RunStore | str | Path | None = None,
        *,
        registry: ToolRegistry | None = None,
        settings: Settings | None = None,
        backend: str | Backend = "inline",
        concurrency: int | None = None,
        budget: Budget | None = None,
        policy: Policy | None = None,
        listeners: list[EventListener] | None = None,
        options: RuntimeOptions | None = None,
        model: str | ModelProvider | None = None,
        router: Router | None = None,
        memory: PlanMemoryLike | bool | None = None,
        toolkits: Sequence[Toolkit | str] | None = None,
        lease_ttl_s: float | None = None,
        knowledge: Sequence[str] | None = None,
    ) -> None:
        settings = settings or load_settings()
        if isinstance(model, str):
            settings = settings.model_copy(update={"model": model})
        super().__init__(
            store,
            registry=registry,
            settings=settings,
            backend=backend,
            concurrency=concurrency,
            budget=budget,
            policy=policy,
            listeners=listeners,
            options=options,
            lease_ttl_s=lease_ttl_s,
        )
        self._model = model
        self._router = router
        self._memory_arg = memory
        self._memory: PlanMemoryLike | None = None
        chosen: list[Toolkit | str] = (
            list(toolkits) if toolkits is not None else list(self.settings.toolkits)
        )
        if knowledge and toolkits is None:
            chosen = []  # like --toolkit: bringing a KB replaces the default toolkits
        if knowledge:
            from veritask.memory.kb_tools import knowledge_toolkit

            chosen = [t for t in chosen if getattr(t, "name", t) != "kb"] + [
                knowledge_toolkit(list(knowledge))
            ]
        self.toolkits = resolve_toolkits(chosen)
        if registry is None:
            # Toolkit tools given as plain functions or JSON declarations are runnable
            # (or refused by name) like @tool ones.
            known = self.registry.copy()
            for toolkit in self.toolkits:
                for spec in toolkit.specs:
                    if spec.name not in known or spec.declared_only:
                        known.add(spec)
            if "deep_agent" in known:  # a toolkit offers it: bind it to this orchestrator
                from veritask.pipeline.agent_step import deep_agent_spec

                known.add(deep_agent_spec(self))
            self.registry = known
        self._catalog: Catalog | None = None
        self._relevance: Relevance | None = None
        self._plan_registry: ToolRegistry | None = None
        if self.options.on_low_confidence is None:
            from veritask.pipeline.task_ladder import TaskLadder

            # The runtime reports unsure tasks; this layer decides to climb.
            self.options = replace(self.options, on_low_confidence=TaskLadder(self))

    def plan_registry(self) -> ToolRegistry:
        """The registry plus the model workers (`llm.*`) and `deep_agent`, which plans may
        call whatever toolkits are active (the planner offers them only through `llm`)."""
        if self._plan_registry is None:
            from veritask.models.workers import worker_specs
            from veritask.pipeline.agent_step import deep_agent_spec

            extended = self.registry.copy()
            for spec in worker_specs():
                if spec.name not in extended:
                    extended.add(spec)
            extended.add(deep_agent_spec(self))  # a toolkit's unbound one is replaced
            self._plan_registry = extended
        return self._plan_registry

    async def drive(
        self,
        plan: Plan,
        log: EventLog,
        state: RunState,
        assembler: Assembler | None = None,
        meter: BudgetMeter | None = None,
    ) -> RunResult:
        """Run a plan with this orchestrator's router bound for its model workers."""
        from veritask.models.workers import bind_router, unbind_router

        token = bind_router(self.router)
        try:
            return await super().drive(plan, log, state, assembler, meter)
        finally:
            unbind_router(token)

    # -- planning ------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """What questions are planned with: the active toolkits, merged."""
        if self._catalog is None:
            self._catalog = Catalog.from_toolkits(self.toolkits)
        return self._catalog

    @property
    def relevance(self) -> Relevance:
        """Question ↔ catalog matching, built once (it embeds the catalog's fields)."""
        if self._relevance is None:
            self._relevance = Relevance(self.catalog)
        return self._relevance

    def planner(self, **kw: Any) -> Planner:
        """A planner over the active toolkits, with episodic memory for examples."""
        return Planner(
            self.router,
            self.catalog,
            remembered=self.remembered_examples,
            relevance=self.relevance,
            **kw,
        )

    # -- models and memory -----------------------------------------------------

    @property
    def router(self) -> Router:
        """The model router, built on first use so plan-only use needs no model."""
        if self._router is None:
            from veritask.models import Router

            providers = {}
            if self._model is not None and not isinstance(self._model, str):
                providers[self._model.name] = self._model
                self.settings = self.settings.model_copy(update={"model": self._model.name})
            self._router = Router(self.settings, providers)
        return self._router

    @property
    def memory(self) -> PlanMemoryLike | None:
        """Episodic plan memory: off for in-memory stores, else beside the run store."""
        if self._memory is None and self._memory_arg is not False:
            if self._memory_arg not in (None, True):
                self._memory = self._memory_arg  # type: ignore[assignment]
            elif isinstance(self.store, SQLiteRunStore) and self.store.path != ":memory:":
                try:
                    from veritask.memory.episodic import PlanMemory
                except ImportError:
                    return None
                path = os.environ.get("VERITASK_MEMORY_PATH") or Path(self.store.path).with_name(
                    "memory.db"
                )
                self._memory = PlanMemory(path)
        return self._memory

    def remembered_examples(self, question: str, k: int) -> list[tuple[str, str]]:
        """Past plans for questions like this one, as (question, steps) with entities abstracted."""
        from veritask.planner.steps import render_steps

        memory = self.memory
        if memory is None:
            return []
        return [
            (ep.abstract_question, render_steps(ep.abstract_plan, self.registry))
            for ep in memory.similar(question, k)
        ]

    def remember(self, question: str, plan: Plan, confidence: float, run_id: str) -> None:
        memory = self.memory
        if memory is not None:
            memory.remember(question, plan, confidence=confidence, run_id=run_id)

    # -- questions -------------------------------------------------------------

    def run(
        self, question: str, *, mode: str = "orchestrated", run_id: str | None = None
    ) -> RunResult:
        """Answer a question: plan it, run the plan, assemble a grounded answer."""
        return run_sync(self.arun(question, mode=mode, run_id=run_id))

    async def arun(
        self, question: str, *, mode: str = "orchestrated", run_id: str | None = None
    ) -> RunResult:
        """Async twin of `run`. `mode` is orchestrated, single-agent or static."""
        from veritask.pipeline.question import MODES, run_question

        if mode not in MODES:
            raise UserError(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
        if not question.strip():
            raise UserError("the question is empty")
        # A model that cannot be built (unknown name, missing key or file) is a usage
        # error now, before a run exists: not a run left `running` for ever.
        for name in self.router.chain("plan"):
            self.router.provider(name)
        run_id = run_id or new_run_id()
        async with self.driving(run_id):  # one driver per run, from its first event
            if self.store.has_run(run_id):
                raise UserError(f"run {run_id!r} already exists in {self.store.url}")
            return await run_question(self, question, mode=mode, run_id=run_id)

    def assembler_for(self, state: RunState) -> Assembler | None:
        """A resumed planned question ends with its answer, built like the first time."""
        if state.options.get("mode") != "orchestrated":
            return None
        from veritask.pipeline.question import plan_assembler

        accepted = [e for e in self.store.events(state.run_id) if e.type == EventType.PLAN_ACCEPTED]
        source = str(accepted[-1].data.get("source", "planner")) if accepted else "planner"
        return plan_assembler(
            state.plan_confidence,
            self.settings.answer_threshold,
            self.tool_descriptions(),
            source=source,
        )

    def tool_descriptions(self) -> str:
        """The active tools' own words — descriptions, field names, the toolkits'
        vocabulary: names (units, sources) and words in them may appear in an answer
        without being a claim."""
        described = [spec.description for spec in self.catalog.registry]
        return "\n".join(described + [t.document for t in self.catalog.targets()])


__all__ = ["Orchestrator", "PlanMemoryLike", "load_plan", "new_run_id"]
