"""`veritask ingest PATH… --kb NAME` and `veritask kb list|show|rm`.

The CLI owner mounts these with ``register(app)``. Knowledge bases live in
``$VERITASK_KB_DIR`` or ``.veritask/kb`` (beside the run store).

Exit codes follow ``veritask.cli``: 0 done (some files may have been skipped;
they are listed), 2 nothing could be ingested or bad input, 3 the KB file
could not be read or written. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from veritask.errors import UserError, VeritaskError
from veritask.memory.chunking import DEFAULT_MAX_CHARS, DEFAULT_MIN_CHARS
from veritask.memory.kb import DIR_ENV, IngestReport, KnowledgeBase, kb_path, list_kbs, remove_kb

EXIT_OK, EXIT_USAGE, EXIT_INTERNAL = 0, 2, 3
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

DirOpt = Annotated[
    str | None,
    typer.Option(
        "--dir", envvar=DIR_ENV, show_envvar=True, help="Where KBs live (default .veritask/kb)."
    ),
]


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _report(report: IngestReport, name: str) -> None:
    parts = [
        f"{len(report.added)} added",
        f"{len(report.updated)} updated",
        f"{len(report.unchanged)} unchanged",
        f"{len(report.removed)} removed",
    ]
    if report.duplicates:
        parts.append(f"{len(report.duplicates)} duplicate")
    err.print(
        f"kb {name}: " + ", ".join(parts) + f"; {report.chunks_indexed} chunks indexed, "
        f"{report.vectors_embedded} embedded",
        highlight=False,
    )
    for path, twin in report.duplicates:
        err.print(f"  duplicate: {path} (same content as {twin})", highlight=False)
    for path, why in report.skipped:
        err.print(f"  [yellow]skipped[/yellow] {path}: {why}", highlight=False)


def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files or directories (md, txt, rst, html).")],
    kb: Annotated[str, typer.Option("--kb", help="The knowledge base to add them to.")],
    max_chars: Annotated[int, typer.Option(help="Largest chunk, in characters.")] = (
        DEFAULT_MAX_CHARS
    ),
    min_chars: Annotated[int, typer.Option(help="Smallest chunk closed early.")] = (
        DEFAULT_MIN_CHARS
    ),
    directory: DirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Add documents to a knowledge base; re-ingest only re-indexes what changed.

    Files under a given directory that were deleted are removed from the KB.
    Unreadable, binary or missing files are skipped and listed; the exit code
    is 2 when nothing at all could be ingested.
    """
    try:
        base = KnowledgeBase(kb, directory=directory, max_chars=max_chars, min_chars=min_chars)
    except UserError as exc:
        _fail(str(exc))
    except VeritaskError as exc:
        _fail(str(exc), EXIT_INTERNAL)
    try:
        with Progress(
            TextColumn("[bold]ingest[/bold] {task.fields[file]}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
            disable=as_json or not err.is_terminal,
        ) as bar:
            task = bar.add_task("ingest", total=None, file="")

            def progress(done: int, total: int, path: str) -> None:
                bar.update(task, completed=done, total=total, file=path.rsplit("/", 1)[-1])

            report = base.ingest(paths, on_progress=progress)
    except VeritaskError as exc:
        _fail(str(exc), EXIT_INTERNAL)
    finally:
        base.close()
    if as_json:
        sys.stdout.write(json.dumps({"kb": kb, **report.__dict__}) + "\n")
    else:
        _report(report, kb)
    if report.ingested == 0 and not report.removed:
        _fail(f"nothing could be ingested into {kb!r} (see the skipped files above)")


kb_app = typer.Typer(
    name="kb", help="List, inspect and remove knowledge bases.", no_args_is_help=True
)


@kb_app.command("list")
def kb_list(directory: DirOpt = None) -> None:
    """The knowledge bases, with their file and chunk counts."""
    names = list_kbs(directory)
    if not names:
        err.print("no knowledge bases yet; create one with: veritask ingest PATH --kb NAME")
        return
    for name in names:
        try:
            with KnowledgeBase(name, directory=directory, embedder=False, create=False) as base:
                s = base.stats()
        except VeritaskError as exc:
            out.print(f"{name}\t(unreadable: {exc})", highlight=False)
            continue
        out.print(f"{name}\t{s['files']} files\t{s['chunks']} chunks", highlight=False)


@kb_app.command("show")
def kb_show(
    name: Annotated[str, typer.Argument(help="The knowledge base.")],
    directory: DirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A knowledge base's files, chunk counts, embedder and vector backend."""
    try:
        with KnowledgeBase(name, directory=directory, embedder=False, create=False) as base:
            stats, files = base.stats(), base.files()
    except UserError as exc:
        _fail(str(exc))
    except VeritaskError as exc:
        _fail(str(exc), EXIT_INTERNAL)
    if as_json:
        sys.stdout.write(json.dumps({**stats, "files": files}) + "\n")
        return
    out.print(
        f"{name}: {stats['files']} files, {stats['chunks']} chunks, {stats['vectors']} vectors "
        f"({stats['embedder']}, {stats['vector_backend']}) in {stats['path']}",
        highlight=False,
    )
    for f in files:
        dup = f" (duplicate of {f['duplicate_of']})" if f["duplicate_of"] else ""
        out.print(f"  {f['path']}\t{f['format']}\t{f['chunks']} chunks{dup}", highlight=False)


@kb_app.command("rm")
def kb_rm(
    name: Annotated[str, typer.Argument(help="The knowledge base to delete.")],
    directory: DirOpt = None,
) -> None:
    """Delete a knowledge base (the source documents are not touched)."""
    try:
        path = kb_path(name, directory)
        if not remove_kb(name, directory):
            _fail(f"no knowledge base {name!r} in {path.parent}")
    except UserError as exc:
        _fail(str(exc))
    err.print(f"removed knowledge base {name} ({path})", highlight=False)


def register(app: typer.Typer) -> None:
    """Mount `ingest` and the `kb` group on the main app."""
    app.command("ingest")(ingest)
    app.add_typer(kb_app, name="kb")


__all__ = ["ingest", "kb_app", "register"]
