"""Tools for the crash-and-resume test, used only in subprocesses.

Like a user's tool module they register with `@tool` into the default
registry, so `veritask resume --import helpers.crash_tools` finds them. Each
call appends its task name to the file named by `VERITASK_TEST_CALLS`, so the
test can count how often each task really ran. While `VERITASK_TEST_BLOCK=1`
the `hold` tools block until the process is killed.
"""

from __future__ import annotations

import asyncio
import os

from veritask import tool


def _record(name: str) -> None:
    fd = os.open(os.environ["VERITASK_TEST_CALLS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{name}\n".encode())
    finally:
        os.close(fd)


async def _hold() -> None:
    while os.environ.get("VERITASK_TEST_BLOCK") == "1":
        await asyncio.sleep(0.02)


@tool(name="crash_record", idempotent=True)
async def crash_record(name: str, value: int) -> int:
    """Record the call and return `value` (safe to repeat)."""
    _record(name)
    return value


@tool(name="crash_send_once")
async def crash_send_once(name: str, value: int) -> int:
    """Record the call and return `value`; not idempotent (like sending an email)."""
    _record(name)
    return value


@tool(name="crash_hold_idempotent", idempotent=True)
async def crash_hold_idempotent(name: str, value: int) -> int:
    """Record the call, block while told to, return `value` (safe to repeat)."""
    _record(name)
    await _hold()
    return value


@tool(name="crash_hold_once")
async def crash_hold_once(name: str, value: int) -> int:
    """Record the call, block while told to, return `value`; not idempotent."""
    _record(name)
    await _hold()
    return value


@tool(name="crash_ledger")
async def crash_ledger(name: str, hold: bool = False) -> str:
    """Append `name` to the side-effect ledger; not idempotent (like a payment).

    With `hold`, block while `VERITASK_TEST_BLOCK=1`; every call also waits
    while the file named by `VERITASK_TEST_GATE` exists, so a test can keep a
    driver busy (and its lease held) for exactly as long as it needs, and for
    `VERITASK_TEST_SLEEP_S` seconds after its side effect, so a SIGKILL at a
    random moment lands in the middle of calls.
    """
    return await _ledger(name, hold)


@tool(name="crash_ledger_idempotent", idempotent=True)
async def crash_ledger_idempotent(name: str, hold: bool = False) -> str:
    """`crash_ledger`, declared safe to repeat (like an upsert): resume may re-run it."""
    return await _ledger(name, hold)


async def _ledger(name: str, hold: bool) -> str:
    _record(name)
    if hold:
        await _hold()
    gate = os.environ.get("VERITASK_TEST_GATE")
    while gate and os.path.exists(gate):
        await asyncio.sleep(0.02)
    pause = float(os.environ.get("VERITASK_TEST_SLEEP_S", "0"))
    if pause:
        await asyncio.sleep(pause)
    return name
