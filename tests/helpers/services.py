"""Real PostgreSQL and Redis for tests: a fresh schema per test, clear skips when absent.

`VERITASK_TEST_PG` (default `postgresql://postgres@127.0.0.1:5432/test`) and
`VERITASK_TEST_REDIS` (default `redis://127.0.0.1:6379/0`) point at the servers.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

PG_URL = os.environ.get("VERITASK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("VERITASK_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _port_open(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or default_port)
    try:
        with socket.create_connection(address, 1):
            return True
    except OSError:
        return False


def postgres_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'veritask[distributed]')"
    if not _port_open(PG_URL, 5432):
        return f"no PostgreSQL server at {PG_URL} (set VERITASK_TEST_PG)"
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"cannot connect to PostgreSQL at {PG_URL}: {exc}"
    return None


def redis_reason() -> str | None:
    """Why Redis/Celery tests cannot run here, or None when they can."""
    try:
        import celery  # noqa: F401
        import redis
    except ImportError:
        return "celery/redis are not installed (pip install 'veritask[distributed]')"
    if not _port_open(REDIS_URL, 6379):
        return f"no Redis server at {REDIS_URL} (set VERITASK_TEST_REDIS)"
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping()
    except redis.RedisError as exc:
        return f"cannot reach Redis at {REDIS_URL}: {exc}"
    return None


def skip_without_postgres() -> None:
    reason = postgres_reason()
    if reason is not None:
        pytest.skip(reason)


@contextmanager
def fresh_pg_schema() -> Iterator[str]:
    """A store URL on a schema of its own, dropped afterwards (tests never share tables)."""
    import psycopg

    skip_without_postgres()
    schema = f"vt_test_{secrets.token_hex(6)}"
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
