"""create_app: the FastAPI app over one run store and an Orchestrator factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from veritask.api import chat, events, runs, web
from veritask.api.auth import GuardMiddleware
from veritask.api.errors import install_error_handlers
from veritask.api.service import ApiConfig, OrchestratorFactory, RunService, default_factory
from veritask.config import Settings, load_settings
from veritask.store import RunStore, open_store


def create_app(
    settings: Settings | None = None,
    *,
    orchestrator_factory: OrchestratorFactory | None = None,
    store: RunStore | None = None,
    config: ApiConfig | None = None,
) -> FastAPI:
    """The HTTP service.

    Args:
        settings: veritask settings (store URL, model, toolkits, api_keys);
            default: veritask.toml and VERITASK_* variables.
        orchestrator_factory: builds the Orchestrator for a run's options on the
            app's store; default: `Orchestrator(store, settings=settings, ...)`.
            Tests pass one backed by a ScriptedModel.
        store: the run store; default: `settings.store`.
        config: HTTP limits; default: `settings.api_keys` and a 1 MB body limit.

    Runs are asyncio tasks of the server process: stopping the server cancels
    them, each writes RunInterrupted and can be resumed later.
    """
    settings = settings or load_settings()
    store = store if store is not None else open_store(settings.store)
    config = config or ApiConfig(api_keys=tuple(settings.api_keys))
    service = RunService(store, orchestrator_factory or default_factory(settings))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await service.shutdown()

    app = FastAPI(
        title="veritask",
        version="0.1.0",
        description=(
            "Validated plans of small tool calls with retries, budgets, explicit confidence "
            "and a durable event log. Send `Authorization: Bearer <key>` when the server "
            "has API keys."
        ),
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.config = config
    install_error_handlers(app)
    for module in (runs, events, chat, web):
        app.include_router(module.router)
    app.add_middleware(
        GuardMiddleware, api_keys=config.api_keys, max_body_bytes=config.max_body_bytes
    )
    return app
