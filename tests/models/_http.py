"""Test helpers: the httpx flavour the provider SDKs accept (newer SDKs use `httpx2`),
and free loopback ports."""

from __future__ import annotations

import socket
from typing import Any

try:
    import httpx2 as httpx
except ImportError:  # older SDKs take plain httpx objects
    import httpx  # type: ignore[no-redef]

Request = httpx.Request
Response = httpx.Response


def mock_client(handler: Any) -> Any:
    """An async client whose requests go to `handler(request) -> Response`."""
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def connect_error(request: Any) -> Exception:
    return httpx.ConnectError("connection refused", request=request)


def free_port() -> int:
    """A loopback port nothing listens on (right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
