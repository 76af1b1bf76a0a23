"""`POST /v1/chat/completions`: veritask behind the OpenAI chat API.

The last user message is the question; the reply is the answer's text. The
`model` field picks the mode: `veritask` (orchestrated), `veritask-single-agent`,
`veritask-static`. Each reply carries a `veritask` object — run_id, status,
confidence, gaps, value — so a client can show how much to trust the answer
and open the run. `stream: true` sends OpenAI chunks and `data: [DONE]`.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse

from veritask.api.runs import ERRORS, service_of
from veritask.api.schemas import ChatRequest
from veritask.api.service import RunService
from veritask.runtime.result import RunResult, answer_json

router = APIRouter()

MODELS = {
    "veritask": "orchestrated",
    "veritask-single-agent": "single-agent",
    "veritask-static": "static",
}


def _question(body: ChatRequest) -> str:
    for message in reversed(body.messages):
        if message.role == "user" and message.text().strip():
            return message.text()
    raise HTTPException(422, "no user message with text: the last user message is the question")


def _mode(model: str) -> str:
    if model not in MODELS:
        raise HTTPException(404, f"unknown model {model!r}; use one of: {', '.join(MODELS)}")
    return MODELS[model]


def veritask_info(result: RunResult) -> dict[str, Any]:
    """What the answer text alone does not say: status, confidence, gaps, the run."""
    summary = answer_json(result)
    return {
        "run_id": result.run_id,
        "status": summary["status"],
        "confidence": summary["confidence"],
        "gaps": summary["gaps"],
        "value": summary["value"],
        "run_status": result.status.value,
    }


def _text(result: RunResult) -> str:
    if result.answer is not None:
        return result.answer.text
    return "The run ended without an answer: " + ("; ".join(result.gaps) or result.status.value)


def completion(result: RunResult, model: str, created: int) -> dict[str, Any]:
    """A `chat.completion` object for a finished run."""
    usage = result.usage
    return {
        "id": f"chatcmpl-{result.run_id}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _text(result)},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
        },
        "veritask": veritask_info(result),
    }


def _chunk(run_id: str, model: str, created: int, delta: dict[str, Any], **extra: Any) -> str:
    finish = extra.pop("finish_reason", None)
    body = {
        "id": f"chatcmpl-{run_id}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


async def _stream(service: RunService, run_id: str, model: str, created: int) -> AsyncIterator[str]:
    """Role first (so the client knows the call is accepted), then the answer when
    the run ends, then the veritask object with the finish reason, then [DONE]."""
    yield _chunk(run_id, model, created, {"role": "assistant", "content": ""})
    try:
        result = await service.wait(run_id)
    except Exception as exc:
        error = {"error": {"type": "run_failed", "message": str(exc) or type(exc).__name__}}
        yield f"data: {json.dumps(error)}\n\n"
        yield "data: [DONE]\n\n"
        return
    yield _chunk(run_id, model, created, {"content": _text(result)})
    yield _chunk(run_id, model, created, {}, finish_reason="stop", veritask=veritask_info(result))
    yield "data: [DONE]\n\n"


@router.post("/v1/chat/completions", responses=ERRORS, response_model=None)
async def chat_completions(body: ChatRequest, request: Request) -> JSONResponse | StreamingResponse:
    """Answer the last user message with a veritask run (see the module docstring)."""
    service = service_of(request)
    mode = _mode(body.model)
    question = _question(body)
    run_id, _ = service.start_question(question, mode=mode)
    created = int(time.time())
    if body.stream:
        return StreamingResponse(
            _stream(service, run_id, body.model, created),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )
    result = await service.wait(run_id)
    return JSONResponse(completion(result, body.model, created))


@router.get("/v1/models", responses=ERRORS)
async def list_models() -> dict[str, Any]:
    """The chat models: one per mode (what OpenAI clients list before calling)."""
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "veritask"} for name in MODELS
        ],
    }
