"""`veritask serve`: the HTTP API, live events and web view under uvicorn.

The CLI owner mounts this with ``register(app)``. Without API keys the server
binds only to loopback: an open port that runs tools for anyone is refused.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, soft_wrap=True)


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback name or address (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Run store URL (default: sqlite:///.veritask/runs.db)."),
    ] = None,
) -> None:
    """Serve the API (/v1/runs, SSE events, /v1/chat/completions) and the web run view."""
    try:
        import uvicorn

        from veritask.api.app import create_app
    except ImportError:
        err.print("[red]error:[/red] serving needs the server extra: pip install veritask[server]")
        raise typer.Exit(2) from None
    from veritask.config import load_settings
    from veritask.errors import VeritaskError

    try:
        settings = load_settings(store=store)
    except VeritaskError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    if not settings.api_keys:
        if not is_loopback(host):
            err.print(
                f"[red]error:[/red] refusing to bind {host}: no API keys are configured. "
                "Set VERITASK_API_KEYS=key1,key2 (or api_keys in veritask.toml), "
                "or bind 127.0.0.1.",
                highlight=False,
            )
            raise typer.Exit(2)
        err.print("no API keys configured: serving on loopback only, without authentication")
    err.print(f"veritask serving on http://{host}:{port}/  (store {settings.store})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    """Mount `serve` on the main `veritask` command."""
    app.command("serve")(serve)
