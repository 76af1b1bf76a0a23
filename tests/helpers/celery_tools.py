"""Tools for the Celery tests, imported by `veritask worker --import helpers.celery_tools`.

Each call appends `name pid` to the ledger file named by `VERITASK_TEST_CALLS`,
so a test counts real executions and knows which worker process to SIGKILL.
While the file named by `VERITASK_TEST_BLOCK_FILE` exists, `hold` tools block.
"""

from __future__ import annotations

import os
import time

from veritask import ToolError, tool


def _record(name: str) -> int:
    fd = os.open(os.environ["VERITASK_TEST_CALLS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{name} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    with open(os.environ["VERITASK_TEST_CALLS"]) as f:
        return sum(1 for line in f if line.split()[0] == name)


def _hold() -> None:
    block = os.environ.get("VERITASK_TEST_BLOCK_FILE")
    while block and os.path.exists(block):
        time.sleep(0.02)


@tool(name="cel_echo", idempotent=True)
def cel_echo(name: str, value: int) -> int:
    """Record the call, return `value`."""
    _record(name)
    return value


@tool(name="cel_flaky", idempotent=True)
def cel_flaky(name: str, value: int) -> int:
    """Fail retryably on the first call, then return `value`."""
    if _record(name) == 1:
        raise ToolError("transient", retryable=True, kind="Transient")
    return value


@tool(name="cel_hold_idempotent", idempotent=True)
def cel_hold_idempotent(name: str, value: int) -> int:
    """Record the call, block while told to, return `value` (safe to repeat)."""
    _record(name)
    _hold()
    return value


@tool(name="cel_hold_once")
def cel_hold_once(name: str, value: int) -> int:
    """Record the call, block while told to, return `value`; not idempotent (a payment)."""
    _record(name)
    _hold()
    return value


@tool(name="cel_once")
def cel_once(name: str, value: int) -> int:
    """Record the call, return `value`; not idempotent (a payment that does not block)."""
    _record(name)
    return value
