"""Tools: the sources of truth tasks consult.

`@tool` registers into the process-wide default registry, which is what the
CLI, the planner and `Orchestrator()` use unless given another one.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import overload

from veritask.errors import UserError
from veritask.tools.registry import ToolFn, ToolRegistry, ToolResult, ToolSpec, make_spec

ENTRY_POINT_GROUP = "veritask.tools"

_default = ToolRegistry()
_entry_points_loaded = False


def default_registry() -> ToolRegistry:
    """The registry `@tool` fills, with built-in and entry-point tools loaded."""
    global _entry_points_loaded
    if not _entry_points_loaded:
        _entry_points_loaded = True
        load_entry_points()
    return _default


@overload
def tool(fn: ToolFn, /) -> ToolFn: ...
@overload
def tool(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    idempotent: bool = False,
    timeout_s: float | None = None,
    retries: int | None = None,
    inline: bool | None = None,
) -> Callable[[ToolFn], ToolFn]: ...


def tool(
    fn: ToolFn | None = None,
    /,
    *,
    name: str | None = None,
    idempotent: bool = False,
    timeout_s: float | None = None,
    retries: int | None = None,
    inline: bool | None = None,
) -> ToolFn | Callable[[ToolFn], ToolFn]:
    """Register a sync or async function as a tool in the default registry.

    `idempotent=True` lets a crashed run re-run the tool on resume;
    `timeout_s` and `retries` (extra attempts after the first) are the tool's
    defaults, which a task's own policy overrides. `inline=True` runs a cheap,
    non-blocking sync tool on the event loop instead of a worker thread (faster,
    but its timeout cannot be enforced); `inline=False` keeps it in a thread
    always; the default runs it in a thread until its calls have proved short
    (a handful, each under 1 ms), then on the loop, and back in a thread after
    any slow call.
    """
    if fn is not None:
        return _default.tool(fn)
    return _default.tool(
        name=name, idempotent=idempotent, timeout_s=timeout_s, retries=retries, inline=inline
    )


def load_entry_points() -> list[str]:
    """Import every module registered under the `veritask.tools` entry point group.

    An entry point may name a module (importing it runs its `@tool`s) or a
    callable taking the registry. Returns the names loaded.
    """
    loaded = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        if callable(obj) and not isinstance(obj, type):
            obj(_default)
        loaded.append(ep.name)
    if not loaded:  # running from a source tree without installed metadata
        importlib.import_module("veritask.tools.builtin")
    return loaded


def import_tool_modules(modules: list[str]) -> list[types.ModuleType]:
    """Import user modules whose `@tool`s should join the default registry (CLI --import)."""
    # A console script's sys.path lacks the working directory; users expect it there.
    cwd = os.getcwd()
    if modules and cwd not in sys.path:
        sys.path.insert(0, cwd)
    imported = []
    for mod in modules:
        try:
            imported.append(importlib.import_module(mod))
        except ImportError as exc:
            raise UserError(
                f"cannot import tool module {mod!r}: {exc}. "
                "Pass a dotted module path that is importable from the current directory."
            ) from exc
        except Exception as exc:
            raise UserError(
                f"tool module {mod!r} failed while importing: {type(exc).__name__}: {exc}"
            ) from exc
    return imported


__all__ = [
    "ENTRY_POINT_GROUP",
    "ToolRegistry",
    "ToolResult",
    "ToolSpec",
    "default_registry",
    "import_tool_modules",
    "load_entry_points",
    "make_spec",
    "tool",
]
