"""API keys and body size: a pure ASGI middleware in front of every route.

Pure ASGI (not BaseHTTPMiddleware) so SSE streams pass through untouched.
Keys are compared with `hmac.compare_digest` against every configured key, so
the time taken does not reveal how much of a guess was right.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
PAGE_PATHS = ("/", "/runs/")
"""The web view's HTML shells carry no run data (the page's script fetches it with
the key the user enters), so a browser can open them without a header."""


def key_matches(header: str | None, keys: tuple[str, ...]) -> bool:
    """Whether an `Authorization: Bearer KEY` header carries one of `keys`."""
    if not header or not header.lower().startswith("bearer "):
        return False
    given = header[7:].strip().encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(given, key.encode())
    return found


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path == "/" or path.startswith("/runs/")


async def _send_error(send: Send, status: int, kind: str, message: str) -> None:
    body = json.dumps({"error": {"type": kind, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="veritask"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """401 without a valid key (when keys are configured), 413 over `max_body_bytes`."""

    def __init__(self, app: ASGIApp, *, api_keys: tuple[str, ...], max_body_bytes: int) -> None:
        self.app = app
        self.api_keys = api_keys
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        guarded = self.api_keys and not _public(scope["path"])
        if guarded and not key_matches(headers.get("authorization"), self.api_keys):
            await _send_error(
                send,
                401,
                "unauthorized",
                "missing or wrong API key; send `Authorization: Bearer <key>`",
            )
            return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body = await self._read_body(headers, receive)
            if body is None:
                await _send_error(
                    send,
                    413,
                    "request_too_large",
                    f"the request body is larger than {self.max_body_bytes} bytes",
                )
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_body(self, headers: dict[str, str], receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it is known to be over the limit."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the buffered body, then the real channel
    (so a streaming response still learns of the client's disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            message: dict[str, Any] = {"type": "http.request", "body": body, "more_body": False}
            return message
        return await receive()

    return replayed
