"""Toolkit: what a domain brings to the planner.

A toolkit bundles a domain's tools with what helps a planner use them well:
a description, a few example (question, plan) pairs in the plan JSON format,
a vocabulary of words questions use for the tools' fields, and short notes
for the prompt. The planner's own code holds no domain words; everything
domain-specific arrives here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from veritask.errors import UserError
from veritask.tools.registry import ToolFn, ToolRegistry, ToolSpec, spec_of
from veritask.types import Plan

ExampleInput = tuple[str, Plan | Mapping[str, Any]]


@dataclass(frozen=True)
class Toolkit:
    """A named set of tools with examples, vocabulary and prompt notes.

    Args:
        name: how `--toolkit NAME` and config refer to it.
        description: one sentence on what the tools cover.
        tools: `@tool` functions (or ToolSpecs).
        examples: (question, plan) pairs; each plan is validated against `tools`
            when the toolkit is created.
        vocabulary: term (a tool, parameter or output field name) → words a
            question may use for it, e.g. {"price_usd": ["cost", "expensive"]}.
        notes: a line or two the planner's prompt should carry.
    """

    name: str
    description: str
    tools: Sequence[ToolFn | ToolSpec]
    examples: Sequence[ExampleInput] = ()
    vocabulary: Mapping[str, Sequence[str]] = field(default_factory=dict)
    notes: str = ""
    specs: tuple[ToolSpec, ...] = field(init=False, repr=False, compare=False)
    plans: tuple[tuple[str, Plan], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "_").replace(".", "_").isidentifier():
            raise UserError(f"toolkit name {self.name!r} must be a word (letters, digits, _ - .)")
        specs = tuple(spec_of(t) for t in self.tools)
        object.__setattr__(self, "specs", specs)
        object.__setattr__(self, "plans", ())

    def registry(self) -> ToolRegistry:
        """This toolkit's tools alone."""
        return ToolRegistry(list(self.specs))


__all__ = ["ExampleInput", "Toolkit"]
