"""Toolkit: validation at creation, discovery by name and from modules."""

from __future__ import annotations

import types
import uuid
from typing import TypedDict

import pytest

from veritask import Toolkit, UserError, tool
from veritask.tools.toolkit import (
    brought_toolkits,
    find_toolkit,
    module_toolkit,
    register_toolkit,
    resolve_toolkits,
    toolkits_in_module,
)


class Book(TypedDict):
    title: str
    author: str
    pages: int


@tool(name=f"book_{uuid.uuid4().hex[:6]}", idempotent=True)
def book(title: str) -> Book:
    """One book of our library: author and page count.

    Args:
        title: the book's title.
    """
    return Book(title=title, author="Ada", pages=120)


BOOK = book.__veritask_tool__.name  # type: ignore[attr-defined]


def plan(*tasks: dict[str, object], template: str = "{$a.pages}") -> dict[str, object]:
    return {"tasks": list(tasks), "answer_template": template}


def test_a_valid_toolkit_keeps_its_examples_as_plans() -> None:
    kit = Toolkit(
        name="library",
        description="Books.",
        tools=[book],
        examples=[
            ("How long is Dune?", plan({"id": "a", "tool": BOOK, "args": {"title": "Dune"}}))
        ],
        vocabulary={"pages": ["long", "length"]},
    )
    ((question, first),) = kit.plans
    assert question == "How long is Dune?"
    assert first.goal == question and first.tasks[0].tool == BOOK
    assert {s.name for s in kit.registry()} >= {BOOK, "calc", "larger", "smaller"}


@pytest.mark.parametrize(
    ("example", "fragment"),
    [
        (plan({"id": "a", "tool": "nope", "args": {}}), "'nope' is not registered"),
        (plan({"id": "a", "tool": BOOK, "args": {"name": "Dune"}}), "does not take argument"),
        (
            plan({"id": "a", "tool": BOOK, "args": {"title": "Dune"}}, template="{$a.colour}"),
            "no field 'colour'",
        ),
        ({"tasks": []}, "malformed plan"),
        ("not a plan", "plan JSON format"),
    ],
)
def test_an_example_that_does_not_validate_names_the_example(
    example: object, fragment: str
) -> None:
    with pytest.raises(UserError) as err:
        Toolkit(name="library", description="", tools=[book], examples=[("Q one?", example)])
    assert "example 1 ('Q one?')" in str(err.value)
    assert fragment in str(err.value)


def test_bad_names_and_vocabulary_are_user_errors() -> None:
    with pytest.raises(UserError, match="must be a word"):
        Toolkit(name="two words", description="", tools=[book])
    with pytest.raises(UserError, match="list of words"):
        Toolkit(name="lib", description="", tools=[book], vocabulary={"pages": "long"})


def test_toolkits_are_found_by_name_and_in_modules() -> None:
    assert find_toolkit("geo").name == "geo"
    with pytest.raises(UserError, match=r"unknown toolkit 'nosuch'.*--import"):
        find_toolkit("nosuch")
    kit = register_toolkit(Toolkit(name=f"lib{uuid.uuid4().hex[:6]}", description="", tools=[book]))
    assert resolve_toolkits([kit.name, kit]) == [kit]

    module = types.ModuleType("my_library_tools")
    module.__doc__ = "Our library's catalogue."
    module.kit = kit  # type: ignore[attr-defined]
    assert toolkits_in_module(module) == [kit]

    bare = types.ModuleType(book.__module__)
    bare.book = book  # type: ignore[attr-defined]
    implicit = module_toolkit(bare)
    assert implicit is not None and [s.name for s in implicit.specs] == [BOOK]


def test_bringing_nothing_keeps_the_default_and_bringing_anything_replaces_it() -> None:
    assert brought_toolkits([], [], []) is None
    assert [k.name for k in brought_toolkits([], [], ["geo"]) or []] == ["geo"]
