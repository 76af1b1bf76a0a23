"""Inline backend: tools run in this process.

Async tools run on the event loop; sync tools run in a thread pool so that a
slow one neither blocks other tasks nor escapes its timeout. A default sync tool
(`inline=None`) that has proved short runs on the loop instead: see
`short_calls` for the rule and why; the scheduler makes those calls itself. A timed-out sync
tool cannot be killed (Python threads cannot be), so its thread finishes in
the background: use the process backend for tools that may hang for good.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from veritask.errors import TaskTimeout
from veritask.runtime.backends.short_calls import record_for, short_bound, timed_call
from veritask.tools.registry import ToolSpec


async def _settle(aw: Awaitable[Any]) -> Any:
    """Await the call, and what it returns if that is awaitable too: an async tool
    hidden behind a plain (non-async) decorator returns a coroutine."""
    result = await aw
    while inspect.isawaitable(result):
        result = await result
    return result


async def _ready(value: Any) -> Any:
    return value


class InlineBackend:
    """Run tools in-process: coroutines on the loop, functions in threads."""

    def __init__(self, max_threads: int = 16, *, adaptive: bool = True) -> None:
        """`adaptive=False` keeps every default sync tool in the thread pool."""
        self._max_threads = max_threads
        self.adaptive = adaptive
        self._executor: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self._max_threads, thread_name_prefix="veritask-tool"
            )
        return self._executor

    async def call(
        self, spec: ToolSpec, args: dict[str, Any], *, task_id: str, timeout_s: float | None
    ) -> Any:
        if spec.inline:
            result = spec.fn(**args)  # cheap by declaration: no thread, no timeout
            return await _settle(_ready(result))
        if spec.is_async:
            aw = spec.fn(**args)
        else:
            # Copy the context so model calls inside the tool charge the run's budget meter.
            ctx = contextvars.copy_context()
            record = record_for(spec) if self.adaptive else None
            if record is None:
                fn = functools.partial(ctx.run, spec.fn, **args)
            else:  # timed in the worker, so the hop itself does not count
                bound = short_bound(timeout_s)
                fn = functools.partial(ctx.run, timed_call, record, bound, spec.fn, args)
            aw = asyncio.get_running_loop().run_in_executor(self._pool(), fn)
        try:
            return await asyncio.wait_for(_settle(aw), timeout_s)
        except TimeoutError:
            if not spec.is_async and (record := record_for(spec)) is not None:
                record.observe(float("inf"), 0.0)  # demote now, not when the thread ends
            raise TaskTimeout(task_id, timeout_s or 0.0) from None

    async def aclose(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
