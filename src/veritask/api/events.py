"""`GET /v1/runs/{id}/events`: the run's log as Server-Sent Events, then live.

Each event is sent as `id: <seq>`, `event: <type>`, `data: <the event as JSON>`.
A client that reconnects with `Last-Event-ID: <seq>` (or `?after=<seq>`) gets
exactly the events after that one: seq is gap-free per run, so nothing is lost
or repeated. The stream ends after RunFinished — or after RunInterrupted when
nobody is driving the run any more (a resume starts a new stream).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from veritask.api.runs import ERRORS, service_of
from veritask.api.service import ApiConfig, RunService
from veritask.errors import RunNotFoundError
from veritask.redact import redact_dict
from veritask.types import Event, EventType

router = APIRouter()


def sse(event: Event) -> str:
    """One event in the SSE wire format."""
    data = json.dumps(redact_dict(event.model_dump(mode="json")), ensure_ascii=False)
    return f"id: {event.seq}\nevent: {event.type.value}\ndata: {data}\n\n"


async def follow(
    service: RunService, config: ApiConfig, run_id: str, after: int, request: Request
) -> AsyncIterator[str]:
    """Replay from `after`, then poll (woken early by the service) until the run ends."""
    last = after
    last_type: EventType | None = None
    quiet_since = time.monotonic()
    while True:
        batch = service.store.events(run_id, after_seq=last)
        for event in batch:
            yield sse(event)
            last, last_type = event.seq, event.type
            if event.type is EventType.RUN_FINISHED:
                return
        if batch:
            quiet_since = time.monotonic()
        elif not service.is_active(run_id):
            if last_type is None and last > 0:
                tail = service.store.events(run_id, after_seq=last - 1)
                last_type = tail[0].type if tail else None
            error = service.error(run_id)
            if error is not None and last == 0:
                yield f"event: error\ndata: {json.dumps({'message': error})}\n\n"
                return
            if last_type is EventType.RUN_INTERRUPTED:
                return
        if await request.is_disconnected():
            return
        if time.monotonic() - quiet_since > config.keepalive_s:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        await service.wait_for_events(config.poll_interval_s)


@router.get(
    "/v1/runs/{run_id}/events",
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}},
    response_class=StreamingResponse,
)
async def run_events(
    run_id: str,
    request: Request,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:
    """The run's events from the start (or after `Last-Event-ID`), then live."""
    service = service_of(request)
    config: ApiConfig = request.app.state.config
    if not service.store.has_run(run_id) and not service.is_active(run_id):
        raise RunNotFoundError(run_id, service.store.url)
    start = after or 0
    if last_event_id is not None and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    return StreamingResponse(
        follow(service, config, run_id, start, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
