"""`veritask worker [--concurrency N] [--import MOD]… [--broker URL]`: a Celery worker.

The CLI owner mounts it with ``register(app)``. A worker imports the tool
modules (so their `@tool`s are in its registry), then consumes attempts of
`--backend celery` runs from the `veritask` queue: prefork pool, one process
per slot, one message reserved per process. It is stateless — no store, no
lease — and can be killed at any time; see `runtime/backends/celery.py` for
what each kind of tool does when that happens.
"""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer

from veritask.config import load_settings
from veritask.errors import VeritaskError
from veritask.tools import default_registry, import_tool_modules


def worker_argv(concurrency: int, loglevel: str) -> list[str]:
    """Celery's own worker arguments: the veritask queue, prefork, no cluster chatter
    (gossip, mingle and heartbeats only slow start-up; the driver never asks workers)."""
    from veritask.runtime.backends.celery import QUEUE

    return [
        "worker",
        f"--concurrency={concurrency}",
        "--pool=prefork",
        f"--queues={QUEUE}",
        f"--loglevel={loglevel}",
        f"--hostname=veritask-{os.getpid()}@{socket.gethostname()}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def register(app: typer.Typer) -> None:
    """Add the `worker` command to the `veritask` CLI."""

    @app.command("worker")
    def worker(
        concurrency: Annotated[
            int, typer.Option(min=1, help="Worker processes (tool calls at once).")
        ] = os.cpu_count() or 1,
        imports: Annotated[
            list[str] | None,
            typer.Option("--import", help="Module whose @tool functions to serve; repeatable."),
        ] = None,
        broker: Annotated[
            str | None, typer.Option(help="Broker URL (default: VERITASK_BROKER_URL).")
        ] = None,
        loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "warning",
    ) -> None:
        """Run tool calls of `--backend celery` runs until stopped."""
        try:
            from veritask.runtime.backends.celery import make_app, visibility_timeout

            import_tool_modules(imports or [])
            settings = load_settings(broker_url=broker)
            timeouts = [spec.timeout_s for spec in default_registry()]
            celery_app = make_app(
                settings.broker_url, visibility_timeout_s=visibility_timeout(timeouts)
            )
        except VeritaskError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        celery_app.worker_main(worker_argv(concurrency, loglevel))
