"""Mapping HTTP-ish failures to `ModelError`, shared by the SDK-based providers.

Only transient failures are marked retryable: timeouts, connection errors,
408, 409 (a lock conflict on the server), 429 and 5xx (including Anthropic's
529 "overloaded"). A 400, 401, 403 or 404 will fail again on retry, so it is
not retryable — the router may still fall back to another model.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Mapping

from veritask.errors import ModelError

RETRYABLE_STATUS = frozenset({408, 409, 429})

_HINTS = {
    401: "the API key was rejected; check the key variable",
    403: "the API key lacks permission for this model",
    404: "unknown model or endpoint; check the model id and base_url",
    429: "rate limited",
    529: "the provider is overloaded",
}


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def retry_after_seconds(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``retry-after`` (delta or HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def status_error(
    provider: str, status: int, message: str, headers: Mapping[str, str] | None = None
) -> ModelError:
    """A `ModelError` for an HTTP error response."""
    hint = _HINTS.get(status)
    text = f"{provider}: HTTP {status}" + (f" ({hint})" if hint else "") + f": {message[:300]}"
    return ModelError(
        text,
        retryable=is_retryable_status(status),
        retry_after_s=retry_after_seconds(headers),
        provider=provider,
    )


def timeout_error(provider: str, detail: str = "") -> ModelError:
    return ModelError(
        f"{provider}: request timed out" + (f": {detail}" if detail else ""),
        retryable=True,
        provider=provider,
    )


def connection_error(
    provider: str, detail: str | BaseException, base_url: str | None = None
) -> ModelError:
    """A retryable `ModelError` naming the endpoint and the network's own reason.

    Given the SDK's exception, the reason is its root cause: the SDK says only
    "Connection error.", the socket under it says "connection refused".
    """
    reason = root_cause(detail) if isinstance(detail, BaseException) else detail
    where = f" to {base_url}" if base_url else ""
    return ModelError(
        f"{provider}: cannot connect{where}: {reason}", retryable=True, provider=provider
    )


def root_cause(exc: BaseException) -> str:
    """The innermost cause's message: `connection refused`, not a wrapper's `Connection error.`"""
    seen: set[int] = set()
    inner = exc
    while id(inner) not in seen:
        seen.add(id(inner))
        nxt = inner.__cause__ or inner.__context__
        if nxt is None:
            break
        inner = nxt
    if isinstance(inner, OSError) and inner.errno:
        return os.strerror(inner.errno).lower()  # asyncio's own text names no reason
    return str(inner) or str(exc) or type(inner).__name__
