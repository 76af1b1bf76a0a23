"""Tools that fail in every way a worker process can: for the process backend tests.

They live in a private registry, not the global `@tool` one, so importing this
module changes nothing for other tests.
"""

from __future__ import annotations

import ctypes
import faulthandler
import os
import time
from pathlib import Path

from veritask.errors import ToolError
from veritask.tools import ToolRegistry

registry = ToolRegistry()


@registry.tool
def raises(message: str) -> int:
    """Raise a plain exception."""
    raise RuntimeError(message)


@registry.tool
def transient(message: str) -> int:
    """Raise a retryable ToolError."""
    raise ToolError(message, retryable=True, kind="Busy")


@registry.tool
def hangs(pid_file: str) -> int:
    """Write this process's pid, then block far past any test timeout."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(30)
    return 0


@registry.tool
def exits(code: int) -> int:
    """Leave the process at once, without cleanup or a result."""
    os._exit(code)


@registry.tool
def segfaults(address: int) -> int:
    """Read from an invalid address in native code."""
    faulthandler.disable()  # pytest's handler, inherited by the fork, would dump a trace
    ctypes.string_at(address)
    return 0


@registry.tool
def returns_unpicklable(n: int) -> object:
    """Return a value that cannot cross the process boundary."""
    return lambda: n


@registry.tool
def pid(n: int) -> int:
    """The id of the process the tool runs in, plus `n`."""
    return os.getpid() + n


@registry.tool
async def async_double(n: int) -> int:
    """An async tool, run in the worker by its own event loop."""
    return n * 2
