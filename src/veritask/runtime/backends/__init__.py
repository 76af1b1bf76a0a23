"""Where a tool call runs: in this process (`inline`) or in a child process (`process`)."""

from __future__ import annotations

from veritask.errors import ConfigError
from veritask.runtime.backends.base import Backend
from veritask.runtime.backends.inline import InlineBackend
from veritask.runtime.backends.process import ProcessBackend


def make_backend(name: str | Backend) -> Backend:
    """A backend by name (`inline`, `process`) or the given instance."""
    if not isinstance(name, str):
        return name
    if name == "inline":
        return InlineBackend()
    if name == "process":
        return ProcessBackend()
    raise ConfigError(f"unknown backend {name!r}; use 'inline' or 'process'")


__all__ = ["Backend", "InlineBackend", "ProcessBackend", "make_backend"]
