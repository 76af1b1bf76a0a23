"""The API under test: a toolkit of our own, a ScriptedModel, a store per test.

`hold` blocks on an asyncio.Event until a test releases it, and records whether
it was cancelled or ran to the end — what the cancel tests look at.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from fastapi import FastAPI

from veritask import Orchestrator, Settings, ToolError, Toolkit
from veritask.api import ApiConfig, RunOptions, create_app
from veritask.models import ScriptedModel
from veritask.store import RunStore, open_store
from veritask.tools import ToolRegistry

SUFFIX = uuid.uuid4().hex[:6]
_tools = ToolRegistry()  # only to attach specs; nothing is added to the default registry

BOOKS = {
    "dune": {"title": "Dune", "author": "Frank Herbert", "pages": 412},
    "emma": {"title": "Emma", "author": "Jane Austen", "pages": 474},
}


class Book(TypedDict):
    title: str
    author: str
    pages: int


@_tools.tool(name=f"book{SUFFIX}", idempotent=True)
def book(title: str) -> Book:
    """One book of our library: its author and page count.

    Args:
        title: the book's title, e.g. "Dune".
    """
    found = BOOKS.get(title.strip().lower())
    if found is None:
        raise ToolError(f"no book titled {title!r}", kind="NotFound")
    return Book(**found)  # type: ignore[typeddict-item]


@dataclass
class Gate:
    """Controls `hold`; made inside the test's event loop."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    """The loop `hold` waits on: a test in another thread releases it through this."""


GATE: list[Gate] = [Gate()]


@_tools.tool(name=f"hold{SUFFIX}", idempotent=True)
async def hold(tag: str) -> str:
    """Wait until the test releases the gate.

    Args:
        tag: returned as is.
    """
    gate = GATE[0]
    gate.loop = asyncio.get_running_loop()
    gate.started.set()
    try:
        await gate.release.wait()
    except asyncio.CancelledError:
        gate.cancelled.append(tag)
        raise
    gate.finished.append(tag)
    return tag


BOOK = f"book{SUFFIX}"
HOLD = f"hold{SUFFIX}"
LIBRARY = Toolkit(
    name=f"library{SUFFIX}",
    description="Books of our library: authors, pages.",
    tools=[book, hold],
    vocabulary={"author": ["wrote", "writer"], "pages": ["long", "length"]},
)
STEPS = f'1. {BOOK}("Dune")\nAnswer: Dune was written by {{$1.author}}.\n'
LONGER = (
    f'1. {BOOK}("Dune")\n2. {BOOK}("Emma")\n'
    '3. larger("$1.title", "$1.pages", "$2.title", "$2.pages")\nAnswer: {$3} is longer.\n'
)
ANSWER = "Dune was written by Frank Herbert."


def book_plan(*titles: str) -> dict[str, Any]:
    """A plan looking up each title, then one `calc` over their pages: a two-level DAG."""
    tasks: list[dict[str, Any]] = [
        {"id": f"b{i}", "tool": BOOK, "args": {"title": t}} for i, t in enumerate(titles)
    ]
    total = " + ".join(f"$b{i}.pages" for i in range(len(titles))) + " + 0"
    tasks.append({"id": "total", "tool": "calc", "args": {"expression": total}})
    return {"goal": "pages", "tasks": tasks, "answer_template": "{$total} pages in all."}


def hold_plan(tag: str = "x") -> dict[str, Any]:
    return {"goal": "wait", "tasks": [{"id": "h", "tool": HOLD, "args": {"tag": tag}}]}


def factory(
    script: str = STEPS,
) -> Callable[[RunStore, RunOptions], Orchestrator]:
    """Orchestrators on the app's store whose model plans every question with `script`."""

    def make(store: RunStore, options: RunOptions) -> Orchestrator:
        return Orchestrator(
            store,
            settings=Settings(store=store.url),
            model=ScriptedModel(default=script),
            budget=options.budget,
            toolkits=[LIBRARY],
            memory=False,
        )

    return make


def make_app(
    store_url: str = "memory://",
    *,
    keys: tuple[str, ...] = (),
    max_body: int = 100_000,
    script: str = STEPS,
) -> FastAPI:
    store = open_store(store_url)
    return create_app(
        Settings(store=store.url),
        orchestrator_factory=factory(script),
        store=store,
        config=ApiConfig(api_keys=keys, max_body_bytes=max_body, poll_interval_s=0.05),
    )
