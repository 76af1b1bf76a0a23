"""Toolkit: what a domain brings to the planner.

A toolkit bundles a domain's tools with what helps a planner use them well:
a description, a few example (question, plan) pairs in the plan JSON format,
a vocabulary of words questions use for the tools' fields, and short notes
for the prompt. The planner's own code holds no domain words; everything
domain-specific arrives here.

Toolkits are found by name (`--toolkit NAME`, config `toolkits = [...]`)
among those registered in this process (`register_toolkit`, `--import`) and
those installed packages declare under the `veritask.toolkits` entry point.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from veritask.errors import UserError
from veritask.plan.validation import validate_plan
from veritask.tools.builtin import calc as _calc
from veritask.tools.builtin import compare as _compare
from veritask.tools.registry import ToolFn, ToolRegistry, ToolSpec, spec_of
from veritask.types import Plan

ENTRY_POINT_GROUP = "veritask.toolkits"
ExampleInput = tuple[str, Plan | Mapping[str, Any]]


def core_specs() -> list[ToolSpec]:
    """Tools every toolkit may use without listing them: arithmetic and comparison."""
    return [spec_of(_calc.calc), spec_of(_compare.larger), spec_of(_compare.smaller)]


@dataclass(frozen=True)
class Toolkit:
    """A named set of tools with examples, vocabulary and prompt notes.

    Args:
        name: how `--toolkit NAME` and config refer to it.
        description: one sentence on what the tools cover.
        tools: `@tool` functions (or ToolSpecs). `calc`, `larger` and `smaller` are always
            available besides these.
        examples: (question, plan) pairs; each plan is validated against the
            toolkit's tools when the toolkit is created, and a bad one is a
            UserError naming it.
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
        if isinstance(self.tools, str | bytes) or not isinstance(self.tools, Sequence):
            raise UserError(f"toolkit {self.name!r}: tools must be a list of @tool functions")
        specs = tuple(spec_of(t) for t in self.tools)
        object.__setattr__(self, "specs", specs)
        object.__setattr__(self, "plans", tuple(self._validated_examples()))
        for term, words in self.vocabulary.items():
            if isinstance(words, str) or not all(isinstance(w, str) for w in words):
                raise UserError(
                    f"toolkit {self.name!r}: vocabulary[{term!r}] must be a list of words, "
                    f'e.g. {{"{term}": ["word", "another word"]}}'
                )

    def registry(self) -> ToolRegistry:
        """This toolkit's tools plus the core tools, as plans from it may call them."""
        return ToolRegistry([*core_specs(), *self.specs])

    def _validated_examples(self) -> list[tuple[str, Plan]]:
        registry = self.registry()
        out = []
        for i, item in enumerate(self.examples, start=1):
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise UserError(f"toolkit {self.name!r}: example {i} must be (question, plan)")
            question, raw = item
            where = f"toolkit {self.name!r}: example {i} ({str(question)[:60]!r})"
            plan = _as_plan(raw, str(question), where)
            problems = validate_plan(plan, registry)
            if problems:
                listed = "; ".join(str(p) for p in problems)
                raise UserError(f"{where} is not a valid plan for its tools: {listed}")
            out.append((str(question), plan))
        return out


def _as_plan(raw: Plan | Mapping[str, Any], question: str, where: str) -> Plan:
    if isinstance(raw, Plan):
        return raw
    if not isinstance(raw, Mapping):
        raise UserError(f"{where}: the plan must be a dict in the plan JSON format")
    data = dict(raw)
    data.setdefault("goal", question)
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise UserError(f"{where}: malformed plan at {loc}: {first['msg']}") from None


# -- finding toolkits ------------------------------------------------------------

_registered: dict[str, Toolkit] = {}


def register_toolkit(toolkit: Toolkit) -> Toolkit:
    """Make `toolkit` findable by name in this process (`--toolkit NAME`)."""
    _registered[toolkit.name] = toolkit
    return toolkit


def toolkits_in_module(module: types.ModuleType) -> list[Toolkit]:
    """The Toolkit objects at a module's top level (what `--import MOD` registers)."""
    return [v for v in vars(module).values() if isinstance(v, Toolkit)]


def module_toolkit(module: types.ModuleType) -> Toolkit | None:
    """The `@tool` functions defined in `module`, as a toolkit named after it.

    A module of bare tools (no Toolkit objects) still has to be planned for:
    its tools are the toolkit, its docstring the description.
    """
    tools = [
        v
        for v in vars(module).values()
        if isinstance(getattr(v, "__veritask_tool__", None), ToolSpec)
        and getattr(v, "__module__", None) == module.__name__
    ]
    if not tools:
        return None
    doc = (module.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    return Toolkit(name=module.__name__, description=doc or module.__name__, tools=tools)


def find_toolkit(name: str) -> Toolkit:
    """The toolkit called `name`: registered in this process, or an installed entry point."""
    if name in _registered:
        return _registered[name]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                found = ep.load()
            except Exception as exc:
                raise UserError(f"toolkit {name!r} failed to load ({ep.value}): {exc}") from exc
            if not isinstance(found, Toolkit):
                raise UserError(f"entry point {ep.value} for toolkit {name!r} is not a Toolkit")
            return register_toolkit(found)
    known = sorted({*_registered, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})
    raise UserError(
        f"unknown toolkit {name!r}; known: {', '.join(known) or 'none'}. "
        "Import the module that defines it with --import MODULE."
    )


def resolve_toolkits(items: Sequence[Toolkit | str]) -> list[Toolkit]:
    """Toolkit objects for a mix of objects and names, each once, in order."""
    out: dict[str, Toolkit] = {}
    for item in items:
        toolkit = item if isinstance(item, Toolkit) else find_toolkit(str(item))
        out.setdefault(toolkit.name, toolkit)
    return list(out.values())


def brought_toolkits(
    modules: Sequence[types.ModuleType],
    tool_files: Sequence[str] = (),
    names: Sequence[str] = (),
) -> list[Toolkit] | None:
    """The toolkits a user brought on the command line, or None when they brought none.

    `--import MOD` brings MOD's Toolkit objects, or — when it has none — its
    `@tool` functions as a toolkit named after it; `--tools FILE.json` brings
    its declarations as a toolkit named after the file; `--toolkit NAME` a
    named one. Bringing any of these replaces the default (geo); name `geo`
    too to keep it.
    """
    from pathlib import Path

    from veritask.tools.declared import load_declarations

    found: list[Toolkit] = []
    for module in modules:
        kits = toolkits_in_module(module)
        for kit in kits:
            register_toolkit(kit)
        bare = module_toolkit(module) if not kits else None
        found += kits or ([bare] if bare is not None else [])
    for file in tool_files:
        specs = load_declarations(file)
        found.append(Toolkit(name=Path(file).stem, description=f"tools from {file}", tools=specs))
    found += [find_toolkit(n) for n in names]
    if not found and not names and not tool_files and not modules:
        return None
    return resolve_toolkits(found)


__all__ = [
    "ENTRY_POINT_GROUP",
    "ExampleInput",
    "Toolkit",
    "brought_toolkits",
    "core_specs",
    "find_toolkit",
    "module_toolkit",
    "register_toolkit",
    "resolve_toolkits",
    "toolkits_in_module",
]
