"""`veritask bench`: run a suite, score results, compare the three modes.

    veritask bench SUITE.jsonl --out RESULTS.jsonl [--mode M] [--faults 0.2] ...
    veritask bench score SUITE.jsonl RESULTS.jsonl [RESULTS2 ...] [--json]
    veritask bench compare SUITE.jsonl [--out-dir DIR] [--limit N] [--faults RATE]

DESIGN.md fixes the first form (`bench SUITE --out R`), which a plain Typer
group cannot parse next to subcommands: it would read SUITE as a command
name. `DefaultGroup` resolves that one way: when the first token is not a
subcommand name (nor --help), it is treated as the first argument of the
default `run` command. The cost is that a suite file literally named `score`
or `compare` must be written `./score`; the gain is that both forms work.

The CLI owner mounts this with ``register(app)``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from veritask.bench.runner import DEFAULT_QUESTION_TIMEOUT_S, BenchConfig, run_suite
from veritask.bench.suite import load_suite
from veritask.errors import UserError, VeritaskError

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

DEFAULT_COMMAND = "run"
MODES = ("orchestrated", "single-agent", "static", "rag")


class DefaultGroup(TyperGroup):
    """A group that runs `run` when the first token is not a subcommand name.

    `ctx` is typed Any because Typer vendors click privately (`typer._click`);
    naming that Context would reach into Typer's internals.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: Any) -> list[str]:
        return [DEFAULT_COMMAND] + [c for c in super().list_commands(ctx) if c != DEFAULT_COMMAND]


bench_app = typer.Typer(
    cls=DefaultGroup,
    name="bench",
    help=(
        "Benchmark veritask on a JSONL suite: `bench SUITE --out R` runs it, "
        "`bench score` scores results, `bench compare` runs all modes and writes a report."
    ),
    no_args_is_help=True,
    add_completion=False,
)

ModeOpt = Annotated[
    str, typer.Option(help="orchestrated, single-agent, static or rag (needs --kb).")
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help="Model, e.g. local:smollm2-135m.")
]
LimitOpt = Annotated[int | None, typer.Option(min=1, help="Only the suite's first N questions.")]
FaultsOpt = Annotated[
    float,
    typer.Option(min=0.0, max=1.0, help="Inject tool and model faults at this rate (0 to 1)."),
]
SeedOpt = Annotated[int, typer.Option(help="Seed for fault injection.")]
StoreOpt = Annotated[
    str | None, typer.Option("--store", help="Run store URL (default: the configured one).")
]
TimeoutOpt = Annotated[
    float, typer.Option(min=1.0, help="Wall-clock cap per question, in seconds.")
]


ImportOpt = Annotated[
    list[str] | None,
    typer.Option("--import", "-i", help="Import a module's @tools and Toolkits."),
]
ToolsOpt = Annotated[
    list[str] | None, typer.Option("--tools", help="A JSON file of tool declarations.")
]
ToolkitOpt = Annotated[
    list[str] | None, typer.Option("--toolkit", help="Answer with this toolkit (repeatable).")
]
KbOpt = Annotated[
    list[str] | None,
    typer.Option("--kb", help="Answer from this knowledge base (veritask ingest … --kb NAME)."),
]
NoExamplesOpt = Annotated[
    bool,
    typer.Option("--no-examples", help="Drop the toolkits' example plans (plan from tools alone)."),
]


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _check_mode(mode: str, kb: list[str] | None = None) -> None:
    if mode not in MODES:
        _fail(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
    if mode == "rag" and not kb:
        _fail("--mode rag retrieves from a knowledge base: add --kb NAME")


def run_with_progress(suite: Path, results: Path, config: BenchConfig, label: str = "") -> None:
    """Run the suite into `results` with a rich progress bar (ETA) on stderr."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    questions = load_suite(suite)
    counts: dict[str, int] = {}
    progress = Progress(
        TextColumn(f"[bold]{label or config.mode}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[counts]}"),
        console=err,
        transient=False,
    )
    task = progress.add_task("bench", total=None, counts="")

    def on_start(total: int, done: int) -> None:
        progress.update(task, total=total, completed=done)
        if done:
            err.print(f"resuming: {done} of {total} questions already in {results}")

    def on_result(row: dict[str, Any]) -> None:
        status = str(row.get("status"))
        counts[status] = counts.get(status, 0) + 1
        text = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        progress.update(task, advance=1, counts=text)

    with progress:
        run_suite(questions, results, config, on_start=on_start, on_result=on_result)


@bench_app.command("run")
def run_command(
    suite: Annotated[Path, typer.Argument(help="Suite JSONL: one {id, question, ...} a line.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Results JSONL (resumable).")],
    mode: ModeOpt = "orchestrated",
    model: ModelOpt = None,
    limit: LimitOpt = None,
    faults: FaultsOpt = 0.0,
    seed: SeedOpt = 0,
    concurrency: Annotated[int, typer.Option(min=1, help="Questions in flight at once.")] = 1,
    store: StoreOpt = None,
    question_timeout: TimeoutOpt = DEFAULT_QUESTION_TIMEOUT_S,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="On resume, run `failed` questions again.")
    ] = False,
    imports: ImportOpt = None,
    tools: ToolsOpt = None,
    toolkits: ToolkitOpt = None,
    no_examples: NoExamplesOpt = False,
    kb: KbOpt = None,
) -> None:
    """Answer every question of SUITE, one result line each; re-run to resume."""
    _check_mode(mode, kb)
    config = BenchConfig(
        knowledge=tuple(kb or ()),
        imports=tuple(imports or ()),
        tools=tuple(tools or ()),
        toolkits=tuple(toolkits or ()),
        examples=not no_examples,
        mode=mode,
        model=model,
        limit=limit,
        faults=faults,
        seed=seed,
        concurrency=concurrency,
        store=store,
        question_timeout_s=question_timeout,
        retry_failed=retry_failed,
    )
    try:
        run_with_progress(suite, out_path, config)
    except UserError as exc:
        _fail(str(exc))
    except VeritaskError as exc:
        _fail(str(exc), 3)
    except KeyboardInterrupt:
        err.print(f"interrupted — finished questions are in {out_path}; re-run to resume")
        raise typer.Exit(130) from None
    err.print(f"results: {out_path}  (score with: veritask bench score {suite} {out_path})")


@bench_app.command("score")
def score_command(
    suite: Annotated[Path, typer.Argument(help="Suite JSONL with `answer` fields.")],
    results: Annotated[list[Path], typer.Argument(help="One or more results JSONL files.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Score result files against the suite's answers, side by side."""
    from veritask.bench.report import scores_table
    from veritask.bench.score import score_file

    try:
        questions = load_suite(suite)
        if not any(q.has_gold for q in questions):
            raise UserError(f"{suite} has no `answer` fields, so there is nothing to score against")
        scores = [score_file(questions, path) for path in results]
    except UserError as exc:
        _fail(str(exc))
    if as_json:
        payload = [s.to_json() for s in scores]
        sys.stdout.write(json.dumps(payload if len(payload) > 1 else payload[0]) + "\n")
        return
    out.print(scores_table(scores))


@bench_app.command("compare")
def compare_command(
    suite: Annotated[Path, typer.Argument(help="Suite JSONL.")],
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Where results, plots and report.md go.")
    ] = Path("bench-report"),
    limit: LimitOpt = None,
    faults: FaultsOpt = 0.0,
    model: ModelOpt = None,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    question_timeout: TimeoutOpt = DEFAULT_QUESTION_TIMEOUT_S,
    modes: Annotated[
        str, typer.Option(help="Comma-separated modes to run.")
    ] = "orchestrated,single-agent,static",
    prefix: Annotated[
        str, typer.Option(help="Results files are PREFIX-<mode>[-faults<rate>].jsonl.")
    ] = "results",
    report_only: Annotated[
        bool, typer.Option("--report-only", help="Do not run; report on results in DIR.")
    ] = False,
    imports: ImportOpt = None,
    tools: ToolsOpt = None,
    toolkits: ToolkitOpt = None,
    no_examples: NoExamplesOpt = False,
    kb: KbOpt = None,
) -> None:
    """Run the modes on the same questions, then write report.md and PNG plots."""
    from veritask.bench.compare import results_name, write_report

    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    for mode in chosen:
        _check_mode(mode, kb)
    try:
        if not report_only:
            for mode in chosen:
                config = BenchConfig(
                    knowledge=tuple(kb or ()),
                    imports=tuple(imports or ()),
                    tools=tuple(tools or ()),
                    toolkits=tuple(toolkits or ()),
                    examples=not no_examples,
                    mode=mode,
                    model=model,
                    limit=limit,
                    faults=faults,
                    seed=seed,
                    store=store,
                    question_timeout_s=question_timeout,
                )
                path = out_dir / results_name(mode, faults, prefix)
                run_with_progress(suite, path, config, label=f"{mode} faults={faults:g}")
        command = " ".join(["veritask", *sys.argv[1:]])
        report = write_report(suite, out_dir, limit=limit, command=command)
    except UserError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        err.print(f"interrupted — results so far are in {out_dir}; re-run to resume")
        raise typer.Exit(130) from None
    err.print(f"report: {report}")


def register(app: typer.Typer) -> None:
    """Mount `bench` on the main app."""
    app.add_typer(bench_app, name="bench")


__all__ = ["DefaultGroup", "bench_app", "register"]
