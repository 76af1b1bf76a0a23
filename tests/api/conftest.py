"""An httpx client on the app in the test's own event loop (ASGITransport)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from tests.api import _app


@pytest.fixture
def gate() -> _app.Gate:
    """A fresh gate for `hold`, bound to this test's loop."""
    _app.GATE[0] = _app.Gate()
    return _app.GATE[0]


@pytest.fixture
async def client(store_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = _app.make_app(store_url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        c.app = app  # type: ignore[attr-defined]
        yield c
    await app.state.service.shutdown()
