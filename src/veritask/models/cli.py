"""`veritask models [--check] [--model M] [--json]`: what models are configured, and do they work.

The CLI owner mounts it with ``register(app)``. Listing reads settings only.
``--check`` makes one tiny real generation per model, without retries or
fallback, so a dead endpoint, a rejected key or a missing model file shows up
as one line within seconds, and the exit code is non-zero.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from typing import Annotated

import typer

from veritask.config import Settings, load_settings
from veritask.errors import VeritaskError
from veritask.models.base import run_sync, user
from veritask.models.prices import split_name
from veritask.models.registry import get_provider
from veritask.models.router import KINDS

CHECK_PROMPT = [user("Reply with the single word OK.")]


@dataclass(frozen=True)
class ModelInfo:
    name: str
    provider: str
    default: bool
    kinds: list[str]


@dataclass(frozen=True)
class CheckResult:
    name: str
    provider: str
    ok: bool
    output_tokens: int
    latency_s: float
    error: str | None


def configured_models(settings: Settings) -> list[ModelInfo]:
    """The default model, then every routed one, with the task kinds each serves."""
    names = [settings.model]
    for kind in KINDS:
        names.extend(settings.routes.get(kind, []))
    out = []
    for name in dict.fromkeys(names):
        kinds = [k for k in KINDS if name in (settings.routes.get(k) or [settings.model])]
        out.append(ModelInfo(name, split_name(name)[0], name == settings.model, kinds))
    return out


async def check_model(name: str, settings: Settings, timeout_s: float = 30.0) -> CheckResult:
    """One tiny generation with `name`; never raises, reports the failure instead."""
    provider_kind = split_name(name)[0]
    started = time.perf_counter()
    try:
        provider = get_provider(name, settings)
        try:
            completion = await asyncio.wait_for(
                provider.acomplete(CHECK_PROMPT, max_tokens=4, temperature=0.0), timeout_s
            )
        finally:
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()
    except TimeoutError:
        error = f"no answer within {timeout_s:g}s"
    except VeritaskError as exc:
        error = _one_line(str(exc))
    except Exception as exc:  # a CLI check reports, it does not crash
        error = _one_line(f"{type(exc).__name__}: {exc}")
    else:
        return CheckResult(
            name,
            provider_kind,
            True,
            completion.usage.output_tokens,
            round(completion.latency_s, 3),
            None,
        )
    latency = round(time.perf_counter() - started, 3)
    return CheckResult(name, provider_kind, False, 0, latency, error)


def _one_line(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return first[:300]


def register(app: typer.Typer) -> None:
    """Add the `models` command to `app`."""

    @app.command("models")
    def models_command(
        check: Annotated[
            bool, typer.Option("--check", help="Make one tiny generation per model.")
        ] = False,
        model: Annotated[
            str | None, typer.Option("--model", "-m", help="Only this model (e.g. openai:gpt-4o).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        timeout: Annotated[
            float, typer.Option("--timeout", help="Seconds per check.", min=0.1)
        ] = 30.0,
    ) -> None:
        """List the configured models (default and routes); --check tries each one."""
        try:
            settings = load_settings()
        except VeritaskError as exc:
            typer.echo(f"error: {_one_line(str(exc))}", err=True)
            raise typer.Exit(2) from None
        infos = configured_models(settings)
        if model is not None:
            infos = [i for i in infos if i.name == model] or [
                ModelInfo(model, split_name(model)[0], False, [])
            ]
        if not check:
            _print_list(infos, as_json)
            return
        results = [run_sync(check_model(i.name, settings, timeout)) for i in infos]
        _print_checks(results, as_json)
        if not all(r.ok for r in results):
            raise typer.Exit(1)


def _print_list(infos: list[ModelInfo], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([asdict(i) for i in infos], indent=2))
        return
    for i in infos:
        role = "default" if i.default else ""
        kinds = ",".join(i.kinds) or "-"
        typer.echo(f"{i.name:<32} {i.provider:<10} {role:<8} {kinds}")


def _print_checks(results: list[CheckResult], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in results], indent=2))
        return
    for r in results:
        if r.ok:
            typer.echo(f"ok    {r.name}: {r.output_tokens} tokens in {r.latency_s:.2f}s")
        else:
            detail = (r.error or "").removeprefix(f"{r.name}: ")  # the name is already shown
            typer.echo(f"FAIL  {r.name}: {detail}")


__all__ = ["CheckResult", "ModelInfo", "check_model", "configured_models", "register"]
