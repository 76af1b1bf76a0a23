"""Run one attempt of a tool task and describe the result as data.

The scheduler decides *whether* to retry; this module only reports what
happened: a value with evidence and confidence, or an error that says
whether a retry could help. Only `ToolError(retryable=True)` and timeouts
are retryable — an arbitrary exception is a bug in the tool, and retrying
a bug wastes the budget.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from veritask.errors import BudgetExceeded, ToolError
from veritask.plan.refs import MissingSecret, RefError, resolve, resolve_env
from veritask.runtime.backends.base import Backend
from veritask.tools.registry import ToolResult, ToolSpec
from veritask.types import Confidence, ConfidenceMethod, ErrorInfo, Source, trusted


@dataclass(frozen=True)
class AttemptResult:
    """One attempt: either `result` or `error` is set."""

    result: ToolResult | None = None
    error: ErrorInfo | None = None


TOOL_CONFIDENCE = Confidence(score=1.0, method=ConfidenceMethod.TOOL)
"""A value returned by a source of truth, with evidence: full confidence."""
NO_ANSWER = Confidence(score=0.0, method=ConfidenceMethod.TOOL)
"""A tool that found no answer and gave no confidence of its own."""


def _default_source(spec: ToolSpec, args: dict[str, Any]) -> Source:
    # Built on the hot path of every task from known-good values: skip validation.
    return trusted(
        Source,
        tool=spec.name,
        query=_jsonable(args),
        source="",
        record_id=None,
        url=None,
        fields={},
    )


def normalise(spec: ToolSpec, args: dict[str, Any], raw: Any) -> ToolResult:
    """Give every tool result evidence and a confidence, whatever the tool returned."""
    if isinstance(raw, ToolResult):
        evidence = raw.evidence or [_default_source(spec, args)]
        confidence = raw.confidence or (NO_ANSWER if raw.no_answer else TOOL_CONFIDENCE)
        return ToolResult(raw.value, evidence, confidence, raw.no_answer)
    return ToolResult(raw, [_default_source(spec, args)], TOOL_CONFIDENCE)


def _jsonable(args: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | None | list | dict) else repr(v)
        for k, v in args.items()
    }


def prepare(
    spec: ToolSpec, raw_args: dict[str, Any], values: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]] | ErrorInfo:
    """(resolved args as written, args converted to the function's types), or the error.

    The first keeps `$env:NAME` as written: it becomes the evidence's query, which is
    logged. Secrets are read from the environment only for the second, the call's own
    arguments, which are never stored; an unset variable fails the task for good (a
    retry in the same environment cannot help).
    """
    try:
        resolved = resolve(raw_args, values)
    except RefError as exc:
        return ErrorInfo(type="ReferenceError", message=str(exc))
    try:
        secret = resolve_env(resolved, os.environ)
    except MissingSecret as exc:
        return ErrorInfo(type="MissingSecret", message=str(exc), retryable=False)
    try:
        return resolved, spec.coerce_args(secret)
    except ValidationError as exc:
        # Problems name arguments; pydantic's own text would echo a secret's value.
        problems = "; ".join(spec.check_args(resolved)) or (
            str(exc) if secret == resolved else "a $env: value does not fit its argument"
        )
        return ErrorInfo(type="InvalidArguments", message=f"{spec.name}: {problems}")


MAX_MESSAGE = 2000
"""Characters of an error message kept in the log: a tool that raises with a 100 MB
string must not write it into every event."""


def _message(exc: BaseException) -> str:
    try:
        text = str(exc) or repr(exc)
    except Exception:  # formatting itself failed (a 5,000-digit int in the message)
        text = f"{type(exc).__name__} (its message could not be formatted)"
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 15] + "… (truncated)"


def describe_failure(exc: Exception) -> ErrorInfo:
    """An exception from a tool as data; only ToolError can say a retry may help."""
    if isinstance(exc, ToolError):
        return ErrorInfo(type=exc.kind, message=_message(exc), retryable=exc.retryable)
    return ErrorInfo(type=type(exc).__name__, message=_message(exc))


Call = Callable[[Callable[..., Any], dict[str, Any]], Any]
"""How the tool's function is called with its arguments (`fn(**args)` by default)."""


def _call(fn: Callable[..., Any], args: dict[str, Any]) -> Any:
    return fn(**args)


def attempt_inline(
    spec: ToolSpec, raw_args: dict[str, Any], values: Mapping[str, Any], call: Call = _call
) -> AttemptResult | None:
    """One attempt of an `inline` sync tool, on the caller's thread.

    Returns None when the tool turned out to return an awaitable, which the
    caller must then run through `attempt` instead. `call` wraps the function
    call alone (the adaptive fast path times it, not the preparation around it).
    """
    prepared = prepare(spec, raw_args, values)
    if isinstance(prepared, ErrorInfo):
        return AttemptResult(error=prepared)
    resolved, args = prepared
    try:
        raw = call(spec.fn, args)
    except BudgetExceeded:
        raise
    except Exception as exc:
        return AttemptResult(error=describe_failure(exc))
    if inspect.isawaitable(raw):
        close = getattr(raw, "close", None)
        if close is not None:
            close()
        return None
    return _checked(spec, normalise(spec, resolved, raw))


async def attempt(
    spec: ToolSpec,
    raw_args: dict[str, Any],
    values: Mapping[str, Any],
    backend: Backend,
    *,
    task_id: str,
    timeout_s: float | None,
) -> AttemptResult:
    """Resolve references, validate arguments, call the tool once through `backend`."""
    prepared = prepare(spec, raw_args, values)
    if isinstance(prepared, ErrorInfo):
        return AttemptResult(error=prepared)
    resolved, args = prepared
    try:
        raw = await backend.call(spec, args, task_id=task_id, timeout_s=timeout_s)
    except BudgetExceeded:
        raise
    except Exception as exc:
        return AttemptResult(error=describe_failure(exc))
    return _checked(spec, normalise(spec, resolved, raw))


def _checked(spec: ToolSpec, result: ToolResult) -> AttemptResult:
    if result.no_answer:
        return AttemptResult(result=result)  # nothing to check: the caller sees why
    problem = spec.check_result(result.value)
    if problem is not None:
        return AttemptResult(error=ErrorInfo(type="InvalidResult", message=problem))
    return AttemptResult(result=result)
