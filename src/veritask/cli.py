"""The `veritask` command line: a thin shell over the Python API.

Exit codes:
    0    the run succeeded (or the command did what it was asked)
    1    the run ended `partial` or `failed` (see `status` in --json output)
    2    a usage error: bad arguments, an invalid plan, an unknown run or tool
    3    veritask itself failed (store unreachable, internal error)
    130  interrupted with Ctrl-C; the run is resumable with `veritask resume`
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from veritask.config import Budget, load_settings
from veritask.errors import PlanError, StoreError, UserError, VeritaskError
from veritask.pipeline.orchestrator import Orchestrator, load_plan, new_run_id
from veritask.runtime.result import RunResult
from veritask.store import open_existing_store
from veritask.tools import import_tool_modules
from veritask.types import RunStatus

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

app = typer.Typer(
    name="veritask",
    help="Run validated plans of small tasks with retries, budgets and a durable event log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        sys.stdout.write(f"veritask {version('veritask')}\n")
        raise typer.Exit(0)


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Run validated plans of small tasks with retries, budgets and a durable event log."""


StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="Run store URL (default: sqlite:///.veritask/runs.db)."),
]
ImportOpt = Annotated[
    list[str] | None,
    typer.Option("--import", "-i", help="Import a module whose @tool functions the plan uses."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
ToolsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--tools",
        help="A JSON file of tool declarations (OpenAI shape; MCP inputSchema accepted). "
        "Plannable, not runnable.",
    ),
]
ToolkitOpt = Annotated[
    list[str] | None,
    typer.Option("--toolkit", help="Plan with this toolkit (repeatable), e.g. geo."),
]
KbOpt = Annotated[
    list[str] | None,
    typer.Option("--kb", help="Answer from this knowledge base (veritask ingest … --kb NAME)."),
]


def _toolkits(
    imports: list[str] | None, tools: list[str] | None, toolkits: list[str] | None
) -> list[Any] | None:
    """The toolkits the user brought (--import, --tools, --toolkit), or None for the default."""
    from veritask.tools.toolkit import brought_toolkits

    modules = import_tool_modules(imports or [])
    return brought_toolkits(modules, tools or [], toolkits or [])


def strict_json(payload: Any) -> str:
    """One line of strict JSON: NaN and Infinity (which no JSON parser accepts) become null."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(payload), default=str, ensure_ascii=False, allow_nan=False)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    from rich.markup import escape

    # Escaped: '[models."openai:gpt-4o"] base_url' is text, not rich markup to swallow.
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn veritask's exceptions into one clear line and an exit code, never a traceback."""
    try:
        yield
    except PlanError as exc:
        fail(str(exc))
    except UserError as exc:
        fail(str(exc))
    except VeritaskError as exc:
        fail(str(exc), EXIT_INTERNAL)


def _check_reachable(url: str) -> None:
    """A store whose directory does not exist is unreachable (exit 3), not empty."""
    path = url.removeprefix("sqlite:///")
    if "://" not in path and not Path(path).resolve().parent.is_dir():
        raise StoreError(
            f"cannot reach the run store {url}: directory {str(Path(path).parent)!r} does not "
            "exist (check --store)"
        )


def _resume_hint(
    run_id: str, store: str | None, imports: list[str] | None, kb: list[str] | None = None
) -> str:
    """The resume command that works as printed: with the same --store, --import and --kb."""
    import shlex

    parts = ["veritask", "resume", run_id]
    if store:
        parts += ["--store", store]
    for module in imports or []:
        parts += ["--import", module]
    for name in kb or []:
        parts += ["--kb", name]
    return shlex.join(parts)


def _budget(**limits: Any) -> Budget:
    """A Budget from command-line limits; a bad one is a usage error naming the option."""
    from pydantic import ValidationError

    try:
        return Budget(**limits)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-")
        raise UserError(f"{option}: {first['msg'].lower()} (got {first['input']!r})") from None


def _exit_code(result: RunResult) -> int:
    return EXIT_OK if result.status is RunStatus.SUCCEEDED else EXIT_RUN_FAILED


def _print_result(result: RunResult, as_json: bool) -> None:
    from veritask.cli_render import result_panel

    if as_json:
        sys.stdout.write(strict_json(result.to_json()) + "\n")
    else:
        out.print(result_panel(result, out.width), soft_wrap=False)


def _orchestrator(store: str | None, backend: str = "inline", **kw: Any) -> Orchestrator:
    settings = load_settings(store=store)
    return Orchestrator(settings=settings, backend=backend, **kw)


def _run_with_progress(
    call: Callable[[Orchestrator], RunResult],
    *,
    store: str | None,
    run_id: str,
    quiet: bool,
    backend: str = "inline",
    imports: list[str] | None = None,
    **kw: Any,
) -> RunResult:
    from veritask.cli_render import ProgressView

    view = ProgressView(err)
    listeners = [] if quiet else [view]
    orch = _orchestrator(store, backend, listeners=listeners, **kw)
    try:
        if quiet:
            return call(orch)
        with view:
            return call(orch)
    except KeyboardInterrupt:
        hint = _resume_hint(run_id, store, imports, kw.get("knowledge"))
        err.print(f"interrupted — continue with: {hint}", markup=False, highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None


@app.command("exec")
def exec_plan(
    plan_file: Annotated[
        Path, typer.Argument(help="A plan as JSON: {goal, tasks, answer_template}.")
    ],
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    imports: ImportOpt = None,
    backend: Annotated[
        str,
        typer.Option(help="inline (threads), process (crash-isolated) or celery (workers)."),
    ] = "inline",
    concurrency: Annotated[int | None, typer.Option(min=1, help="Tasks run at once.")] = None,
    max_seconds: Annotated[
        float | None, typer.Option(help="Wall-clock budget for the run.")
    ] = None,
    max_tasks: Annotated[int | None, typer.Option(help="Most tasks the run may start.")] = None,
    run_id: Annotated[
        str | None, typer.Option(help="Use this run id instead of a new one.")
    ] = None,
    kb: KbOpt = None,
) -> None:
    """Validate a plan file and run it, showing progress; every step is logged.

    --kb NAME binds the plan's kb_search / kb_answer steps to that knowledge base.
    """
    with user_errors():
        import_tool_modules(imports or [])
        plan = load_plan(plan_file)
        rid = run_id or new_run_id()
        budget = None
        if max_seconds is not None or max_tasks is not None:
            budget = _budget(max_seconds=max_seconds, max_tasks=max_tasks)
        result = _run_with_progress(
            lambda o: o.execute(plan, run_id=rid),
            store=store,
            run_id=rid,
            quiet=as_json,
            backend=backend,
            imports=imports,
            concurrency=concurrency,
            budget=budget,
            knowledge=kb,
        )
        _print_result(result, as_json)
    raise typer.Exit(_exit_code(result))


@app.command("resume")
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.")],
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    imports: ImportOpt = None,
    backend: Annotated[str, typer.Option(help="inline, process or celery.")] = "inline",
    kb: KbOpt = None,
) -> None:
    """Continue a run; finished tasks are kept, unfinished ones re-run if idempotent."""
    with user_errors():
        _check_reachable(load_settings(store=store).store)
        import_tool_modules(imports or [])
        result = _run_with_progress(
            lambda o: o.resume(run_id),
            store=store,
            run_id=run_id,
            quiet=as_json,
            backend=backend,
            imports=imports,
            knowledge=kb,
        )
        _print_result(result, as_json)
    raise typer.Exit(_exit_code(result))


@app.command("settle")
def settle(
    run_id: Annotated[str, typer.Argument(help="The run with an unknown task.")],
    task_id: Annotated[str, typer.Argument(help="The unknown task.")],
    done: Annotated[
        str | None,
        typer.Option("--done", help="It happened; its value (JSON, or plain text)."),
    ] = None,
    not_done: Annotated[
        bool, typer.Option("--not-done", help="It did not happen; resume runs it again.")
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Settle a task left `unknown` by a crash, after checking the outside world.

    A non-idempotent task that started but has no result is never run twice by
    veritask itself. Say what happened, then `veritask resume` goes on.
    """
    with user_errors():
        if (done is None) == (not not_done):
            raise UserError("say what happened: --done VALUE or --not-done (one of the two)")
        _check_reachable(load_settings(store=store).store)
        value: Any = None
        if done is not None:
            try:
                value = json.loads(done)
            except json.JSONDecodeError:
                value = done
        orch = _orchestrator(store)
        orch.settle(run_id, task_id, done=not not_done, value=value)
    what = f"done with value {json.dumps(value)}" if not not_done else "not done"
    hint = _resume_hint(run_id, store, None)
    err.print(f"task {task_id} settled as {what}; continue with: {hint}", markup=False)


@app.command("runs")
def runs(
    store: StoreOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="How many recent runs.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List recent runs, newest first."""
    from veritask.cli_render import runs_table

    with user_errors():
        url = load_settings(store=store).store
        existing = open_existing_store(url)
        if existing is None:
            _check_reachable(url)
        found = existing.runs(limit) if existing is not None else []
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in found]) + "\n")
    elif not found:
        out.print("no runs yet — start one with `veritask exec PLAN.json`")
    else:
        out.print(runs_table(found, out.width), soft_wrap=False)


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="The run to show.")],
    events: Annotated[bool, typer.Option("--events", help="Also list every event.")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a run: its plan, each task's outcome and evidence, the value and the gaps.

    With --json: the object of the command that made the run (`run --json` for a
    question, `exec --json` for a plan) plus trace_id and evidence.
    """
    from veritask.cli_render import events_table, state_view
    from veritask.redact import redact
    from veritask.runtime.state import fold
    from veritask.tracing.spans import trace_id_hex

    with user_errors():
        url = load_settings(store=store).store
        _check_reachable(url)
        st = open_existing_store(url)
        log = st.events(run_id) if st is not None else []
        if not log:
            from veritask.errors import RunNotFoundError

            raise RunNotFoundError(run_id, url)
        state = fold(log)
    if as_json:
        from veritask.runtime.result import show_json

        payload = show_json(RunResult.from_state(state))
        if events:
            payload["events"] = [redact(e.model_dump(mode="json")) for e in log]
        payload["trace_id"] = trace_id_hex(run_id)
        sys.stdout.write(strict_json(payload) + "\n")
        return
    # Fitted to the terminal (80 columns in a pipe): ids whole, values summarised.
    out.print(state_view(state, out.width), soft_wrap=False)
    if events:
        out.print(events_table(log, out.width), soft_wrap=False)


ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Model, e.g. local:smollm2-135m or openai:gpt-4o."),
]


@app.command("run")
def run_question(
    question: Annotated[str, typer.Argument(help="The question, in plain language.")],
    as_json: JsonOpt = False,
    mode: Annotated[
        str, typer.Option(help="orchestrated (plan + tools), single-agent (ReAct) or static.")
    ] = "orchestrated",
    model: ModelOpt = None,
    store: StoreOpt = None,
    imports: ImportOpt = None,
    tools: ToolsOpt = None,
    toolkits: ToolkitOpt = None,
    kb: KbOpt = None,
    max_seconds: Annotated[
        float | None, typer.Option(help="Wall-clock budget (default: 120 s per question).")
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Token budget for the run.")] = None,
) -> None:
    """Answer a question: plan it, run the plan live, print the answer with evidence and gaps.

    With --json, stdout is one object: run_id, status (answered, partial, abstained,
    failed), answer, value, confidence, gaps, usage, tasks.
    """
    from veritask.cli_render import ProgressView, answer_panel
    from veritask.runtime.result import answer_json

    with user_errors():
        if not question.strip():
            raise UserError("the question is empty; ask something")
        active = _toolkits(imports, tools, toolkits)
        settings = load_settings(store=store, model=model)
        budget = None
        if max_seconds is not None or max_tokens is not None:
            budget = _budget(max_seconds=max_seconds, max_tokens=max_tokens)
        view = ProgressView(err, show_plan=True)
        orch = Orchestrator(
            settings=settings,
            budget=budget,
            listeners=[] if as_json else [view],
            toolkits=active,
            knowledge=kb,
        )
        rid = new_run_id()
        try:
            if as_json:
                result = orch.run(question, mode=mode, run_id=rid)
            else:
                with view:
                    result = orch.run(question, mode=mode, run_id=rid)
        except KeyboardInterrupt:
            hint = _resume_hint(rid, store, imports, kb)
            err.print(f"interrupted — continue with: {hint}", markup=False, highlight=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None
    if as_json:
        sys.stdout.write(strict_json(answer_json(result)) + "\n")
    else:
        out.print(answer_panel(result, out.width), soft_wrap=False)
    answered = result.answer is not None and result.answer.status.value == "answered"
    raise typer.Exit(EXIT_OK if answered else EXIT_RUN_FAILED)


@app.command("plan")
def plan_question(
    question: Annotated[str, typer.Argument(help="The question to plan.")],
    as_json: JsonOpt = False,
    model: ModelOpt = None,
    store: StoreOpt = None,
    imports: ImportOpt = None,
    tools: ToolsOpt = None,
    toolkits: ToolkitOpt = None,
    kb: KbOpt = None,
) -> None:
    """Show the validated plan for a question; runs nothing (a dry run).

    With --json: exit 0 and {"plan", "confidence", "votes", "samples"}, or — when
    no plan can be made — exit 1 and {"plan": null, "problems": [...]}.
    """
    from veritask.cli_render import PlanningStatus
    from veritask.models.base import run_sync
    from veritask.planner.steps import render_steps

    with user_errors():
        if not question.strip():
            raise UserError("the question is empty; ask something")
        active = _toolkits(imports, tools, toolkits)
        orch = Orchestrator(
            settings=load_settings(model=model, store=store), toolkits=active, knowledge=kb
        )
        status = PlanningStatus()
        planner = orch.planner(on_candidate=lambda c: status.note(c.valid, c.round))
        try:
            with _planning_view(status, quiet=as_json):
                planned = run_sync(planner.aplan(question))
        except PlanError as exc:
            if not as_json:
                raise
            problems = [str(p) for p in exc.problems]
            sys.stdout.write(json.dumps({"plan": None, "problems": problems}) + "\n")
            raise typer.Exit(EXIT_RUN_FAILED) from None
    if as_json:
        payload = {
            "plan": planned.plan.model_dump(mode="json"),
            "confidence": planned.confidence,
            "votes": planned.votes,
            "samples": len(planned.candidates),
        }
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        return
    out.print(render_steps(planned.plan, orch.registry), highlight=False)
    out.print(
        f"[dim]plan confidence {planned.confidence:.2f} "
        f"({planned.votes} of {len(planned.candidates)} samples agree)[/dim]"
    )


@contextmanager
def _planning_view(status: Any, *, quiet: bool) -> Iterator[None]:
    """A ticking "planning… N samples — 12.3s" line on a terminal while the planner works."""
    if quiet or not err.is_terminal:
        yield
        return
    from rich.live import Live
    from rich.text import Text

    status.start()
    with Live(
        console=err,
        refresh_per_second=8,
        transient=True,
        get_renderable=lambda: Text(status.line(), style="cyan"),
    ):
        yield


def _register_optional_commands() -> None:
    """Commands owned by other modules; each registers itself on `app`."""
    import importlib

    for module in (
        "veritask.models.cli",
        "veritask.memory.cli",
        "veritask.memory.kb_cli",
        "veritask.bench.cli",
        "veritask.api.cli",
        "veritask.runtime.worker_cli",
    ):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        mod.register(app)


_register_optional_commands()


def main() -> None:
    """Console entry point.

    A sync tool that ran past its timeout keeps running in its thread (Python
    cannot kill a thread), and the interpreter would wait for it at exit. The
    run is already durably logged by then, so the process exits without
    waiting for such abandoned threads.
    """
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        main_thread = threading.main_thread()
        if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        raise
