"""Where a tool call runs: in this process (`inline`), in a child process (`process`),
or on Celery workers (`celery`, the `distributed` extra)."""

from __future__ import annotations

from veritask.errors import ConfigError
from veritask.runtime.backends.base import Backend
from veritask.runtime.backends.inline import InlineBackend
from veritask.runtime.backends.process import ProcessBackend


def make_backend(name: str | Backend) -> Backend:
    """A backend by name (`inline`, `process`, `celery`) or the given instance."""
    if not isinstance(name, str):
        return name
    if name == "inline":
        return InlineBackend()
    if name == "process":
        return ProcessBackend()
    if name == "celery":
        # Imported here: celery is optional and slow to import.
        from veritask.runtime.backends.celery import CeleryBackend

        return CeleryBackend()
    raise ConfigError(f"unknown backend {name!r}; use 'inline', 'process' or 'celery'")


__all__ = ["Backend", "InlineBackend", "ProcessBackend", "make_backend"]
