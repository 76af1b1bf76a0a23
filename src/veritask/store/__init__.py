"""Run stores: where the event log lives. `open_store(url)` picks one by URL."""

from __future__ import annotations

import re
from pathlib import Path

from veritask.errors import ConfigError
from veritask.store.base import NewEvent, RunStore
from veritask.store.memory import MemoryRunStore
from veritask.store.sqlite import SQLiteRunStore


def open_store(url: str | Path) -> RunStore:
    """A store for `url`: `sqlite:///relative.db`, `sqlite:////abs.db`, `memory://`,
    `postgresql://user@host/db[?schema=NAME]` (needs the `distributed` extra),
    or a plain file path (taken as SQLite)."""
    text = str(url)
    if text.startswith("memory://"):
        return MemoryRunStore()
    if text.startswith(("postgresql://", "postgres://")):
        # Imported here: psycopg is optional, and SQLite users should not pay for it.
        from veritask.store.postgres import PostgresRunStore

        return PostgresRunStore(text)
    if text.startswith("sqlite:///"):
        return SQLiteRunStore(text[len("sqlite:///") :] or ":memory:")
    if "://" in text or _SCHEME_LIKE.match(text):
        # 'foo:bar', 'sqlite:/x.db' or 'sqlite:typo.db' would otherwise become a file of
        # that name in the working directory.
        scheme = text.split(":", 1)[0]
        raise ConfigError(
            f"unsupported store URL {text!r} (scheme {scheme!r}); use one of: "
            f"{SUPPORTED_FORMS}, or a plain path like runs.db"
        )
    return SQLiteRunStore(text)


SUPPORTED_FORMS = (
    "sqlite:///relative/runs.db, sqlite:////absolute/runs.db, postgresql://user@host/db, memory://"
)
_SCHEME_LIKE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]+:|[A-Za-z]:(?![\\/]))")
"""`word:` at the start (not a Windows drive `C:\\`): a URL, never a file name."""


def open_existing_store(url: str | Path) -> RunStore | None:
    """Like `open_store`, but None instead of creating a missing SQLite file
    (read-only commands must not leave empty databases behind a typo)."""
    text = str(url)
    path = text[len("sqlite:///") :] if text.startswith("sqlite:///") else text
    in_memory = "://" in path or path in ("", ":memory:")
    if not in_memory and not Path(path).exists():
        return None
    return open_store(url)


__all__ = [
    "MemoryRunStore",
    "NewEvent",
    "RunStore",
    "SQLiteRunStore",
    "open_existing_store",
    "open_store",
]
