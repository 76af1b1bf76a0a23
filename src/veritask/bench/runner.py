"""Run a suite: every question through `Orchestrator.arun`, one result line each.

Design choices, each for a reason:

- **One event loop, questions as asyncio tasks** bounded by a semaphore
  (`concurrency`). The embedded model serialises generations on a per-loop
  lock, so threads with their own loops would only contend; tasks on one loop
  share one provider, one model lock and one store connection.
- **A fresh Orchestrator per question** (cheap: the store, provider and tool
  catalog are shared) so fault injectors, whose call counters are per
  question, stay deterministic under concurrency.
- **Episodic memory is off**: a plan remembered from question 3 would make
  question 17's result depend on the order questions ran in.
- **Nothing stops the suite**: an exception or a run that exceeds the
  per-question wall-clock cap becomes a `failed` line (the run's events stay
  in the store under the recorded run id, so `veritask show` still works).
  Only Ctrl-C ends the suite, and every finished line is already on disk.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veritask.bench.suite import Question, ResultWriter, load_results, result_line
from veritask.config import Settings, load_settings
from veritask.pipeline.orchestrator import Orchestrator, new_run_id
from veritask.runtime.result import answer_json
from veritask.store import RunStore, open_store
from veritask.testing import FaultInjector, FaultyModel, faulty_registry
from veritask.tools import default_registry, import_tool_modules
from veritask.tools.toolkit import Toolkit, brought_toolkits, resolve_toolkits

if TYPE_CHECKING:
    from veritask.models import ModelProvider
    from veritask.tools.registry import ToolRegistry

DEFAULT_QUESTION_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class BenchConfig:
    """How to run a suite. `model` and `store` None mean the configured defaults."""

    mode: str = "orchestrated"
    model: str | None = None
    limit: int | None = None
    faults: float = 0.0
    seed: int = 0
    concurrency: int = 1
    store: str | None = None
    question_timeout_s: float = DEFAULT_QUESTION_TIMEOUT_S
    retry_failed: bool = False
    imports: tuple[str, ...] = ()
    """Modules to import (--import): their @tools and Toolkits."""
    tools: tuple[str, ...] = ()
    """JSON tool declaration files (--tools)."""
    toolkits: tuple[str, ...] = ()
    """Toolkits by name (--toolkit)."""
    knowledge: tuple[str, ...] = ()
    """Knowledge bases to answer from (--kb NAME), as the `kb` toolkit."""
    examples: bool = True
    """False: plan with every toolkit's examples removed (`--no-examples`), from tool
    descriptions alone."""


@dataclass
class BenchRun:
    """What `run_suite` did: rows it wrote now, ids it skipped, faults it injected."""

    written: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    faults: dict[str, dict[str, int]] = field(default_factory=dict)


ResultCallback = Callable[[dict[str, Any]], None]


def select(
    questions: Sequence[Question], out: str | Path, config: BenchConfig
) -> tuple[list[Question], list[str]]:
    """(questions still to run, ids skipped because `out` already has them).

    `--limit N` takes the suite's first N questions, so a resumed or a
    compared run always covers the same N.
    """
    chosen = list(questions[: config.limit] if config.limit else questions)
    done = load_results(out, missing_ok=True)
    if config.retry_failed:
        done = {k: v for k, v in done.items() if v.get("status") != "failed"}
    todo = [q for q in chosen if q.id not in done]
    return todo, [q.id for q in chosen if q.id in done]


class _Factory:
    """Builds the orchestrator for one question, sharing the expensive parts."""

    def __init__(
        self,
        config: BenchConfig,
        *,
        settings: Settings | None,
        model: ModelProvider | None,
        registry: ToolRegistry | None,
        store: RunStore | None,
    ) -> None:
        self.config = config
        self.settings = settings or load_settings(store=config.store, model=config.model)
        self.store = store or open_store(self.settings.store)
        self._model = model
        self._configured_model = model is None
        self.toolkits = _active_toolkits(config, self.settings)
        self.registry: ToolRegistry = (
            registry
            if registry is not None
            else with_toolkit_tools(default_registry(), self.toolkits)
        )
        if registry is None:
            warm_builtin_tools()

    async def warm_model(self) -> None:
        """One tiny generation before the first question, for a configured model.

        The embedded model loads its weights on first use; on a busy machine
        that first call can overrun the router's timeout, open its circuit
        breaker and fail a question for a reason no later question shares
        (seen on the dev suite). A failure here is ignored: the questions
        will meet and record it themselves.
        """
        if not self._configured_model:
            return
        from veritask.models import user

        try:
            await asyncio.wait_for(
                self.model.acomplete([user("Reply with OK.")], max_tokens=2), 600
            )
        except Exception:  # any failure: see the docstring
            return

    @property
    def model(self) -> ModelProvider:
        if self._model is None:
            from veritask.models import get_provider

            self._model = get_provider(self.settings.model, self.settings)
        return self._model

    def make(self, question: Question) -> tuple[Orchestrator, FaultInjector | None]:
        model: Any = self.model
        registry = self.registry
        injector = None
        if self.config.faults > 0:
            injector = FaultInjector(self.config.faults, seed=self.config.seed, key=question.id)
            model = FaultyModel(model, injector)
            registry = faulty_registry(registry, injector)
        orch = Orchestrator(
            self.store,
            settings=self.settings,
            model=model,
            registry=registry,
            memory=False,
            toolkits=self.toolkits,
        )
        return orch, injector


def _active_toolkits(config: BenchConfig, settings: Settings) -> list[Toolkit]:
    """The toolkits a suite is answered with; without examples when asked to."""
    modules = import_tool_modules(list(config.imports))
    brought = brought_toolkits(modules, config.tools, config.toolkits)
    if config.knowledge:
        from veritask.memory.kb_tools import knowledge_toolkit

        brought = [*(brought or []), knowledge_toolkit(list(config.knowledge))]
    kits = resolve_toolkits(brought if brought is not None else settings.toolkits)
    if not config.examples:
        kits = [dataclasses.replace(k, examples=()) for k in kits]
    return kits


def with_toolkit_tools(registry: ToolRegistry, toolkits: Sequence[Toolkit]) -> ToolRegistry:
    """A copy of ``registry`` that can also run the toolkits' own tools.

    Why: a toolkit may bring tools that are in no registry — the `kb` toolkit's
    `kb_search`/`kb_answer` are closures bound to the KBs named by ``--kb`` —
    and the runner hands every question an explicit registry (so fault
    injection can wrap it), which the Orchestrator then uses as it is.
    """
    known = registry.copy()
    for toolkit in toolkits:
        for spec in toolkit.specs:
            if spec.name not in known or spec.declared_only:
                known.add(spec)
    return known


def warm_builtin_tools() -> None:
    """Load the built-in geo data (seconds on a busy machine) before the first question.

    Otherwise the first question's latency measures a one-off data load, and
    under `--faults` that load can overrun the short fault-injection tool
    timeout and count as a fault that was never injected.
    """
    try:
        from veritask.toolkits.geo.data import geo_data
    except ImportError:
        return
    geo_data()


def _failed(question: Question, run_id: str, message: str, latency: float) -> dict[str, Any]:
    return result_line(
        id=question.id,
        status="failed",
        answer=message,
        value=None,
        confidence=0.0,
        input_tokens=0,
        output_tokens=0,
        cost_usd=0.0,
        latency_s=round(latency, 3),
        run_id=run_id,
    )


async def _one(question: Question, factory: _Factory) -> tuple[dict[str, Any], dict[str, int]]:
    """Run one question under the wall-clock cap; never raises (except Ctrl-C)."""
    cap = factory.config.question_timeout_s
    run_id = new_run_id()
    started = time.perf_counter()
    injector: FaultInjector | None = None
    try:
        orch, injector = factory.make(question)
        result = await asyncio.wait_for(
            orch.arun(question.question, mode=factory.config.mode, run_id=run_id), cap
        )
    except TimeoutError:
        row = _failed(question, run_id, f"timed out after {cap:g} s", time.perf_counter() - started)
    except Exception as exc:  # a failing question is recorded, never stops the suite
        row = _failed(
            question, run_id, f"{type(exc).__name__}: {exc}", time.perf_counter() - started
        )
    else:
        data = answer_json(result)
        usage = data["usage"]
        row = result_line(
            id=question.id,
            status=data["status"],
            answer=data["answer"],
            value=data["value"],
            confidence=data["confidence"],
            input_tokens=usage["input_tokens"],
            output_tokens=usage["output_tokens"],
            cost_usd=usage["cost_usd"],
            latency_s=round(time.perf_counter() - started, 3),
            run_id=result.run_id,
        )
    return row, (injector.counts() if injector else {})


async def arun_suite(
    questions: Sequence[Question],
    out: str | Path,
    config: BenchConfig,
    *,
    on_start: Callable[[int, int], None] | None = None,
    on_result: ResultCallback | None = None,
    settings: Settings | None = None,
    model: ModelProvider | None = None,
    registry: ToolRegistry | None = None,
    store: RunStore | None = None,
) -> BenchRun:
    """Answer every question not yet in `out`, appending a line per question.

    `on_start(total, already_done)` and `on_result(row)` drive a progress
    view. `model`, `registry` and `store` override the configured ones (tests
    pass a ScriptedModel and an in-memory store).
    """
    todo, skipped = select(questions, out, config)
    writer = ResultWriter(out)
    report = BenchRun(skipped=skipped)
    if on_start is not None:
        on_start(len(todo) + len(skipped), len(skipped))
    if not todo:
        return report
    factory = _Factory(config, settings=settings, model=model, registry=registry, store=store)
    gate = asyncio.Semaphore(max(1, config.concurrency))

    async def guarded(q: Question) -> None:
        async with gate:
            row, counts = await _one(q, factory)
        writer.write(row)
        report.written.append(row)
        if counts:
            report.faults[q.id] = counts
        write_meta(out, config, report)  # after every line: a killed run keeps its sidecar
        if on_result is not None:
            on_result(row)

    write_meta(out, config, report)
    await factory.warm_model()
    await asyncio.gather(*(guarded(q) for q in todo))
    return report


def run_suite(
    questions: Sequence[Question], out: str | Path, config: BenchConfig, **kw: Any
) -> BenchRun:
    """Blocking twin of `arun_suite`."""
    return asyncio.run(arun_suite(questions, out, config, **kw))


def meta_path(out: str | Path) -> Path:
    """Where the sidecar with the run's settings and injected faults lives."""
    out = Path(out)
    return out.with_name(out.name + ".meta.json")


def write_meta(out: str | Path, config: BenchConfig, report: BenchRun) -> None:
    """Record how the results were made (merged with earlier, resumed sessions).

    Result lines have a fixed shape (DESIGN.md), so the settings and the
    faults each question met live beside them, for the report.
    """
    path = meta_path(out)
    old: dict[str, Any] = {}
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            old = {}
    faults = {**old.get("faults", {}), **report.faults}
    meta = {"config": asdict(config), "faults": faults}
    path.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def read_meta(out: str | Path) -> dict[str, Any]:
    """The sidecar of `out`, or {} when there is none."""
    path = meta_path(out)
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data


__all__ = [
    "DEFAULT_QUESTION_TIMEOUT_S",
    "BenchConfig",
    "BenchRun",
    "arun_suite",
    "meta_path",
    "read_meta",
    "run_suite",
    "select",
]
