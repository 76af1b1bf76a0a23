"""Process backend: each tool call runs in a forked child process.

Isolation is the point: a tool that raises, hangs past its timeout, or kills
its own process (`os._exit`, a segfault in native code) costs only that
call. The parent reads the result from a pipe; a child that dies without
answering is reported with its exit code or signal, and a hung child is
killed with SIGKILL at the timeout.

Forking (rather than spawning) means the tool function and its module state
are already in the child: nothing is pickled but the arguments and the
result, which must be picklable. Fork needs a POSIX system.
"""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
import os
import signal
import traceback
from multiprocessing.connection import Connection
from typing import Any

from veritask.errors import TaskTimeout, ToolError
from veritask.tools.registry import ToolSpec


async def _awaited(aw: Any) -> Any:
    return await aw


def _child(spec: ToolSpec, args: dict[str, Any], conn: Connection) -> None:
    try:
        result = spec.fn(**args)
        if inspect.isawaitable(result):  # async, or async behind a plain decorator
            result = asyncio.run(_awaited(result))
        message: tuple[Any, ...] = ("ok", result)
    except ToolError as exc:
        message = ("tool_error", str(exc), exc.retryable, exc.kind)
    except BaseException as exc:
        message = ("error", type(exc).__name__, str(exc), traceback.format_exc(limit=5))
    try:
        conn.send(message)
    except Exception as exc:  # the result could not be pickled
        conn.send(("error", "UnpicklableResult", f"tool result cannot be sent back: {exc}", ""))
    conn.close()
    os._exit(0)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "the worker process did not exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed by {name}"
    return f"the worker process exited with code {code} before returning a result"


class ProcessBackend:
    """Run every tool call in its own forked process."""

    def __init__(self) -> None:
        self._ctx = multiprocessing.get_context("fork")

    async def call(
        self, spec: ToolSpec, args: dict[str, Any], *, task_id: str, timeout_s: float | None
    ) -> Any:
        loop = asyncio.get_running_loop()
        parent, child = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_child, args=(spec, args, child), daemon=True)
        proc.start()
        child.close()
        readable: asyncio.Future[None] = loop.create_future()

        def on_readable() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(parent.fileno(), on_readable)
        try:
            try:
                await asyncio.wait_for(readable, timeout_s)
            except TimeoutError:
                proc.kill()
                raise TaskTimeout(task_id, timeout_s or 0) from None
            try:
                message = parent.recv()
            except (EOFError, OSError):
                await loop.run_in_executor(None, proc.join, 5)
                raise ToolError(_describe_exit(proc.exitcode), kind="WorkerDied") from None
        finally:
            loop.remove_reader(parent.fileno())
            parent.close()
            if proc.is_alive():
                proc.kill()
            await loop.run_in_executor(None, proc.join, 5)
            proc.close()
        return _unpack(message)

    async def aclose(self) -> None:
        return None


def _unpack(message: tuple[Any, ...]) -> Any:
    kind = message[0]
    if kind == "ok":
        return message[1]
    if kind == "tool_error":
        raise ToolError(message[1], retryable=message[2], kind=message[3])
    _, exc_type, text, _tb = message
    raise ToolError(f"{exc_type}: {text}", kind=exc_type)
