"""`veritask memory list|clear`: look at and reset the planner's episodic memory.

The CLI owner mounts it with ``register(app)``. The memory file is, in order:
``--path P``, then ``$VERITASK_MEMORY_PATH``, then ``.veritask/memory.db`` in
the current directory. Neither command creates the file when it does not
exist: listing a memory nobody wrote to is not a reason to leave a database
behind.

Exit codes follow ``veritask.cli``: 0 done, 1 the user declined ``clear``,
2 bad input, 3 the memory file could not be read or written. Errors are one
line on stderr, never a traceback.
"""

from __future__ import annotations

import json
from itertools import groupby
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from veritask.errors import UserError, VeritaskError
from veritask.memory.episodic import DEFAULT_PATH, PATH_ENV, Episode, PlanMemory

EXIT_DECLINED, EXIT_USAGE, EXIT_INTERNAL = 1, 2, 3

PathOpt = Annotated[
    str,
    typer.Option(
        "--path",
        envvar=PATH_ENV,
        show_envvar=True,
        help="The memory file (default: .veritask/memory.db).",
    ),
]


def shape(episode: Episode) -> str:
    """The tools a plan calls, repeats folded: ``country_facts×2 → calc``."""
    parts = []
    for tool, group in groupby(episode.tools):
        n = len(list(group))
        parts.append(f"{tool}×{n}" if n > 1 else tool)
    return " → ".join(parts)


def episode_json(episode: Episode) -> dict[str, object]:
    return {
        "abstract_question": episode.abstract_question,
        "question": episode.question,
        "tools": episode.tools,
        "confidence": episode.confidence,
        "uses": episode.uses,
        "hits": episode.hits,
        "failures": episode.failures,
        "demoted": episode.demoted,
        "run_id": episode.run_id,
        "created_at": episode.created_at.isoformat(),
        "abstract_plan": episode.abstract_plan.model_dump(mode="json", exclude_none=True),
    }


def _fail(message: str, code: int) -> NoReturn:
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    typer.echo(f"error: {first}", err=True)
    raise typer.Exit(code)


def _open(path: str) -> PlanMemory | None:
    """The memory at `path`, or None when there is no file yet."""
    if path != ":memory:" and not Path(path).exists():
        return None
    if Path(path).is_dir():
        _fail(f"{path} is a directory; --path takes the memory file", EXIT_USAGE)
    try:
        return PlanMemory(path)
    except VeritaskError as exc:
        _fail(str(exc), EXIT_INTERNAL)


def register(app: typer.Typer) -> None:
    """Add the `memory` command group (`list`, `clear`) to `app`."""
    memory_app = typer.Typer(
        name="memory",
        help="The planner's memory of plans that answered with high confidence.",
        no_args_is_help=True,
    )

    @memory_app.command("list")
    def list_command(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        limit: Annotated[int, typer.Option("--limit", min=1, help="How many episodes.")] = 50,
        path: PathOpt = DEFAULT_PATH,
    ) -> None:
        """Remembered questions (abstract form), plan shape, confidence, uses and hits.

        `uses`: runs whose planner wrote this plan; `hits`: runs that reused it
        outright (no model call) and answered well; a demoted plan is not reused."""
        memory = _open(path)
        episodes: list[Episode] = []
        if memory is not None:
            try:
                with memory:
                    episodes = memory.list(limit)
            except VeritaskError as exc:
                _fail(str(exc), EXIT_INTERNAL)
        if as_json:
            typer.echo(json.dumps([episode_json(e) for e in episodes], indent=2))
        elif not episodes:
            typer.echo(f"no remembered plans in {path}")
        else:
            typer.echo(f"{'uses':>4}  {'hits':>4}  {'conf':>4}  {'plan':<36}  question")
            for e in episodes:
                flag = "  (demoted)" if e.demoted else ""
                typer.echo(
                    f"{e.uses:>4}  {e.hits:>4}  {e.confidence:>4.2f}  {shape(e):<36}  "
                    f"{e.abstract_question}{flag}"
                )

    @memory_app.command("clear")
    def clear_command(
        yes: Annotated[
            bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")
        ] = False,
        path: PathOpt = DEFAULT_PATH,
    ) -> None:
        """Forget every remembered plan (asks first unless --yes)."""
        memory = _open(path)
        if memory is None:
            typer.echo(f"nothing to clear: {path} does not exist")
            return
        try:
            with memory:
                count = len(memory)
                if (
                    count
                    and not yes
                    and not typer.confirm(
                        f"Forget {count} remembered plan(s) in {path}?", default=False
                    )
                ):
                    typer.echo("nothing removed")
                    raise typer.Exit(EXIT_DECLINED)
                removed = memory.clear()
        except UserError as exc:
            _fail(str(exc), EXIT_USAGE)
        except VeritaskError as exc:
            _fail(str(exc), EXIT_INTERNAL)
        typer.echo(f"removed {removed} remembered plan(s) from {path}")

    app.add_typer(memory_app, name="memory")


__all__ = ["episode_json", "register", "shape"]
