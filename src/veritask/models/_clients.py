"""SDK clients kept one per event loop, shared by the HTTP providers.

An SDK client's connection pool belongs to the loop it was first used on, and
the sync `complete` runs a fresh loop per call, so a provider keeps one client
per loop (weakly, so finished loops take their clients with them) and closes
the running loop's client in `aclose`.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

C = TypeVar("C")


class LoopClients(Generic[C]):
    """`make()` builds a client; `given` is the caller's client, used as is and never
    closed; `owns_connections=False` (a caller-supplied http client) leaves closing to
    the caller too."""

    def __init__(
        self, make: Callable[[], C], *, given: C | None = None, owns_connections: bool = True
    ) -> None:
        self._make = make
        self._given = given
        self._owns = owns_connections
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, C] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> C:
        if self._given is not None:
            return self._given
        loop = asyncio.get_running_loop()
        client = self._by_loop.get(loop)
        if client is None:
            client = self._make()
            self._by_loop[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the running loop's client, if this provider opened it."""
        client: Any = self._by_loop.pop(asyncio.get_running_loop(), None)
        if client is not None and self._owns:
            await client.close()
