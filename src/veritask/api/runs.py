"""Routes for runs, tools and health: thin shells over RunService and the store."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from veritask.api.schemas import ErrorBody, RunAccepted, RunRequest
from veritask.api.service import RunOptions, RunService
from veritask.api.views import run_detail, run_line
from veritask.errors import RunNotFoundError

router = APIRouter()
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 404, 409, 413, 422)
}


def service_of(request: Request) -> RunService:
    """The app's RunService (set by create_app)."""
    service: RunService = request.app.state.service
    return service


def _links(run_id: str) -> dict[str, str]:
    base = f"/v1/runs/{run_id}"
    return {
        "self": base,
        "events": f"{base}/events",
        "cancel": f"{base}/cancel",
        "resume": f"{base}/resume",
        "view": f"/runs/{run_id}",
    }


@router.post("/v1/runs", status_code=202, response_model=RunAccepted, responses=ERRORS)
async def start_run(
    body: RunRequest,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Start a run in the background: a question (planned, then run) or a given plan.

    The same `Idempotency-Key` returns the same run (200 instead of 202) while
    the request is the same; a different request under a used key is a 422.
    """
    service = service_of(request)
    options = RunOptions(
        model=body.model,
        budget=body.budget,
        toolkits=tuple(body.toolkits) if body.toolkits is not None else None,
    )
    if body.plan is not None:
        run_id, replayed = service.start_plan(
            body.plan, options=options, idempotency_key=idempotency_key
        )
    else:
        run_id, replayed = service.start_question(
            body.question or "", mode=body.mode, options=options, idempotency_key=idempotency_key
        )
    accepted = RunAccepted(
        run_id=run_id,
        status="running" if service.is_active(run_id) else _status(service, run_id),
        replayed=replayed,
        links=_links(run_id),
    )
    return JSONResponse(
        accepted.model_dump(),
        status_code=200 if replayed else 202,
        headers={"Location": f"/v1/runs/{run_id}"},
    )


def _status(service: RunService, run_id: str) -> str:
    try:
        return service.state(run_id).status.value
    except RunNotFoundError:
        return "pending"


@router.get("/v1/runs", responses=ERRORS)
async def list_runs(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    """Recent runs, newest first; page with `offset` (`next_offset` is null on the last page)."""
    service = service_of(request)
    found = service.store.runs(offset + limit + 1)
    page = found[offset : offset + limit]
    more = len(found) > offset + limit
    return {
        "runs": [run_line(r, active=service.is_active(r.run_id)) for r in page],
        "next_offset": offset + limit if more else None,
    }


@router.get("/v1/runs/{run_id}", responses=ERRORS)
async def get_run(run_id: str, request: Request) -> dict[str, Any]:
    """A run: status, plan, each task's outcome and evidence, answer, confidence, gaps, usage."""
    service = service_of(request)
    try:
        state = service.state(run_id)
    except RunNotFoundError:
        if service.is_active(run_id):  # started a moment ago, nothing durable yet
            return {"run_id": run_id, "status": "pending", "active": True, "tasks": []}
        raise
    return run_detail(state, active=service.is_active(run_id), error=service.error(run_id))


@router.post("/v1/runs/{run_id}/cancel", responses=ERRORS)
async def cancel_run(run_id: str, request: Request) -> dict[str, Any]:
    """Stop the run this server drives: its tool calls are cancelled, RunInterrupted is
    written, and the run stays resumable. 409 if this server is not driving it."""
    service = service_of(request)
    if not await service.cancel(run_id):
        state = service.state(run_id)  # 404 for an unknown run
        raise HTTPException(
            409, f"run {run_id!r} is not being driven by this server ({state.status.value})"
        )
    return {"run_id": run_id, "status": _status(service, run_id), "cancelled": True}


@router.post("/v1/runs/{run_id}/resume", status_code=202, responses=ERRORS)
async def resume_run(run_id: str, request: Request) -> dict[str, Any]:
    """Continue an interrupted or cancelled run; 409 while any driver holds it."""
    service = service_of(request)
    service.resume(run_id)
    return {"run_id": run_id, "status": "running", "links": _links(run_id)}


@router.get("/v1/tools", responses=ERRORS)
async def list_tools(request: Request) -> dict[str, Any]:
    """The active toolkits and every runnable tool with its JSON schema."""
    orch = service_of(request).orchestrator()
    return {
        "toolkits": [
            {"name": tk.name, "description": tk.description, "tools": [s.name for s in tk.specs]}
            for tk in orch.toolkits
        ],
        "tools": [
            {
                "name": spec.name,
                "description": spec.description,
                "parameters": spec.input_schema,
                "idempotent": spec.idempotent,
                "declared_only": spec.declared_only,
            }
            for spec in orch.registry
        ],
    }


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers; says nothing about its dependencies."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready when the run store answers a read and the planning model can be built.

    The model is configured, not called: building its provider finds an unknown
    name, a missing key or a missing model file; a generation would cost seconds.
    """
    service = service_of(request)
    try:
        service.store.runs(1)
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "store": f"error: {type(exc).__name__}"}, status_code=503
        )
    try:
        router = service.orchestrator().router
        models = [router.provider(name).name for name in router.chain("plan")]
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "store": "ok", "model": f"error: {exc}"[:300]},
            status_code=503,
        )
    return JSONResponse({"status": "ready", "store": "ok", "model": ", ".join(models)})
