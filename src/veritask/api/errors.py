"""Exception handlers: every error is `{"error": {"type", "message"}}`, never a traceback.

veritask's own exceptions map to statuses here, at the one boundary: an
unknown run is 404, a run being driven is 409, a bad plan or argument is 422.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from veritask.errors import ConfigError, PlanError, RunLocked, RunNotFoundError, UserError

log = logging.getLogger("veritask.api")


def error_response(status: int, kind: str, message: str, **extra: Any) -> JSONResponse:
    """The one error shape, OpenAI-compatible (its clients read `error.message`)."""
    return JSONResponse({"error": {"type": kind, "message": message, **extra}}, status_code=status)


def _validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    problems = []
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "(body)"
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            msg = "the body is not valid JSON"
        lines.append(f"{loc}: {msg}")
        problems.append({"loc": loc, "message": msg})
    return "; ".join(lines) or "invalid request", problems


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; the order of checks is most specific first."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, problems = _validation_message(exc)
        return error_response(422, "invalid_request", message, problems=problems)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not even decode the body: malformed input
            return error_response(
                422, "invalid_request", "the body could not be parsed; send UTF-8 JSON"
            )
        kinds = {404: "not_found", 405: "method_not_allowed", 409: "conflict"}
        return error_response(exc.status_code, kinds.get(exc.status_code, "error"), str(exc.detail))

    @app.exception_handler(RunNotFoundError)
    async def _not_found(_: Request, exc: RunNotFoundError) -> JSONResponse:
        return error_response(404, "not_found", f"no run {exc.run_id!r}")

    @app.exception_handler(RunLocked)
    async def _locked(_: Request, exc: RunLocked) -> JSONResponse:
        return error_response(409, "run_locked", str(exc))

    @app.exception_handler(PlanError)
    async def _bad_plan(_: Request, exc: PlanError) -> JSONResponse:
        problems = [str(p) for p in exc.problems]
        return error_response(422, "invalid_plan", "; ".join(problems), problems=problems)

    @app.exception_handler(ConfigError)
    async def _config(_: Request, exc: ConfigError) -> JSONResponse:
        log.error("configuration error: %s", exc)
        return error_response(500, "config_error", str(exc))

    @app.exception_handler(UserError)
    async def _user(_: Request, exc: UserError) -> JSONResponse:
        return error_response(422, "invalid_request", str(exc))

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error", exc_info=exc)
        return error_response(500, "internal_error", "internal error; see the server log")
