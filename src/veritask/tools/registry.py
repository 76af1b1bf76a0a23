"""The tool registry: plain functions become tools with a JSON schema.

A tool is the source of truth a task consults. Its argument schema comes from
the type hints, its description from the docstring, so a tool is written
once and the planner, the validator and the runtime all read the same spec.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model

from veritask.errors import UnknownToolError, UserError
from veritask.tools.questions import Question
from veritask.types import Confidence, Source

ToolFn = Callable[..., Any]


@dataclass(frozen=True)
class ToolResult:
    """What a tool returns when it wants to say more than a bare value.

    `evidence` names the records the value came from; `confidence` lets a
    tool lower its own score (a fuzzy match, a stale record); `no_answer` says
    it looked and found none.
    """

    value: Any
    evidence: list[Source] = field(default_factory=list)
    confidence: Confidence | None = None
    no_answer: str = ""
    """Why the tool found no answer; non-empty means `value` is none. A model worker whose
    outputs were all cut or ambiguous says so here rather than raising: its task is then
    a result under any threshold, which may climb the escalation ladder, and a gap (a
    failed task with this reason) if it ends without an answer."""


@dataclass(frozen=True)
class ToolSpec:
    """Everything the runtime and planner need to know about one tool."""

    name: str
    fn: ToolFn
    description: str
    params_model: type[BaseModel]
    param_descriptions: dict[str, str]
    output_fields: frozenset[str] | None
    """Fields a `$task.field` reference may name; None when the output is untyped."""
    idempotent: bool = False
    timeout_s: float | None = None
    retries: int | None = None
    is_async: bool = False
    inline: bool | None = None
    """True: run on the event loop instead of a worker thread, for cheap, non-blocking
    sync tools (arithmetic, in-memory lookups); its timeout cannot be enforced.
    False: always a worker thread. None (the default): a worker thread until the tool
    has proved short, then the loop (`veritask.runtime.backends.short_calls`)."""
    output_kinds: dict[str, str] = field(default_factory=dict)
    """Output field → `text`, `number`, `bool`, `list` or `other`: what a plan may do with it
    (a number can go into arithmetic, a text into another tool's name argument)."""
    result_kind: str = "other"
    """The kind of the whole value when it is a scalar (`number` for a distance)."""
    question_params: frozenset[str] = frozenset()
    """Parameters typed `Question`: the tool reads the user's question and answers in
    words (see `veritask.tools.questions`); the planner passes the question as asked."""
    declared_only: bool = False
    """Declared in JSON (`--tools FILE.json`) without an implementation: plannable, not runnable."""
    _adapters: dict[str, TypeAdapter[Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def input_schema(self) -> dict[str, Any]:
        schema = self.params_model.model_json_schema()
        schema.pop("title", None)
        for name, text in self.param_descriptions.items():
            prop = schema.get("properties", {}).get(name)
            if prop is not None and "description" not in prop:
                prop["description"] = text
        for name in self.question_params:
            prop = schema.get("properties", {}).get(name)
            if prop is not None:
                prop.setdefault("format", "question")  # the same mark a JSON declaration uses
        return schema

    @functools.cached_property
    def param_names(self) -> list[str]:
        return list(self.params_model.model_fields)

    @functools.cached_property
    def required_params(self) -> list[str]:
        return [n for n, f in self.params_model.model_fields.items() if f.is_required()]

    def param_enum(self, name: str) -> list[Any] | None:
        """The values a parameter is limited to (a Literal or enum, optional or not)."""
        prop = self.input_schema.get("properties", {}).get(name, {})
        if prop.get("enum"):
            return list(prop["enum"])
        for option in prop.get("anyOf", []):
            if option.get("enum"):
                return list(option["enum"])
            if "const" in option:
                return [option["const"]]
        return [prop["const"]] if "const" in prop else None

    def param_adapter(self, name: str) -> TypeAdapter[Any]:
        """A validator for one argument, built once per tool and argument."""
        adapter = self._adapters.get(name)
        if adapter is None:
            adapter = TypeAdapter(self.params_model.model_fields[name].annotation or Any)
            self._adapters[name] = adapter
        return adapter

    def check_args(self, args: dict[str, Any]) -> list[str]:
        """Problems with fully resolved `args`, as sentences; empty when valid."""
        try:
            self.params_model.model_validate(args)
        except ValidationError as exc:
            return [_describe_validation_error(err) for err in exc.errors()]
        return []

    def coerce_args(self, args: dict[str, Any]) -> dict[str, Any]:
        """Validate and convert resolved `args` into the function's types."""
        model = self.params_model.__pydantic_validator__.validate_python(args)
        return dict(model.__dict__)

    @functools.cached_property
    def _result_adapter(self) -> TypeAdapter[Any] | None:
        hint = typing.get_type_hints(self.fn).get("return")
        if hint is None or hint is Any or hint is type(None):
            return None
        if isinstance(hint, type) and issubclass(hint, ToolResult):
            return None
        try:
            return TypeAdapter(hint)
        except Exception:  # an annotation pydantic cannot check is not checked
            return None

    def check_result(self, value: Any) -> str | None:
        """Why `value` is not what the tool declares it returns, or None when it is.

        A source of truth that returns malformed data ("n/a" for a distance) must
        fail its task, not flow into an answer.
        """
        adapter = self._result_adapter
        if adapter is None:
            return None
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            return f"{self.name} returned {value!r:.80}: {first['msg']}"
        return None

    def catalog_entry(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "args": self.input_schema}


def _describe_validation_error(err: Any) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ())) or "(args)"
    kind = err.get("type", "")
    if kind == "missing":
        return f"argument {loc!r} is required"
    if kind == "extra_forbidden":
        return f"argument {loc!r} is not accepted"
    shown = repr(err.get("input"))
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    return f"argument {loc!r}: {err.get('msg', 'invalid')} (got {shown})"


_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.+)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Google-style docstring → (summary paragraph, {param: description})."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    in_args = False
    summary_done = False
    for line in lines:
        if _ARGS_HEADER.match(line):
            in_args = summary_done = True
            continue
        if in_args:
            m = _ARG_LINE.match(line)
            if m:
                params[m.group(1)] = m.group(2).strip()
            elif line.strip() and not line.startswith(" "):
                in_args = False
        elif not summary_done:
            if line.strip():
                summary.append(line.strip())
            elif summary:
                summary_done = True
    return " ".join(summary), params


def kind_of(hint: Any) -> str:
    """`text`, `number`, `bool`, `list` or `other` for a type hint (Optional[X] counts as X,
    a NewType as its base: `Question` is text)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if args and typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = args[0]
    while isinstance(hint, typing.NewType):
        hint = hint.__supertype__
    if hint is str or typing.get_origin(hint) is typing.Literal:
        return "text"
    if hint is bool:
        return "bool"
    if hint in (int, float):
        return "number"
    if typing.get_origin(hint) in (list, tuple, set, frozenset) or hint in (list, tuple):
        return "list"
    return "other"


def _output_kinds(annotation: Any) -> dict[str, str]:
    """Kinds of a structured return type's fields (TypedDict, pydantic model, dataclass)."""
    origin = typing.get_origin(annotation) or annotation
    if not isinstance(origin, type):
        return {}
    try:
        if typing.is_typeddict(origin):
            return {k: kind_of(v) for k, v in typing.get_type_hints(origin).items()}
        if issubclass(origin, BaseModel):
            return {k: kind_of(f.annotation) for k, f in origin.model_fields.items()}
        if dataclasses.is_dataclass(origin):
            hints = typing.get_type_hints(origin)
            return {f.name: kind_of(hints.get(f.name)) for f in dataclasses.fields(origin)}
    except Exception:  # unresolvable forward references: fields stay unknown kinds
        return {}
    return {}


def _output_fields(annotation: Any) -> frozenset[str] | None:
    if annotation is inspect.Signature.empty or annotation is Any:
        return None
    origin = typing.get_origin(annotation) or annotation
    if isinstance(origin, type):
        if typing.is_typeddict(origin):
            return frozenset(typing.get_type_hints(origin))
        if issubclass(origin, dict | ToolResult):
            return None  # a ToolResult's fields are its envelope, not the value's
        if issubclass(origin, BaseModel):
            return frozenset(origin.model_fields)
        if dataclasses.is_dataclass(origin):
            return frozenset(f.name for f in dataclasses.fields(origin))
        return frozenset()
    return None


def make_spec(
    fn: ToolFn,
    *,
    name: str | None = None,
    description: str | None = None,
    idempotent: bool = False,
    timeout_s: float | None = None,
    retries: int | None = None,
    inline: bool | None = None,
) -> ToolSpec:
    """Build a ToolSpec from a function's signature, type hints and docstring."""
    tool_name = name or fn.__name__
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", tool_name):
        raise UserError(f"tool name {tool_name!r} must be an identifier (letters, digits, _ . -)")
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:  # unresolvable forward references
        raise UserError(f"tool {tool_name!r}: cannot read its type hints ({exc})") from exc
    summary, param_docs = parse_docstring(fn.__doc__)
    fields: dict[str, Any] = {}
    for pname, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise UserError(f"tool {tool_name!r}: *args/**kwargs are not supported in tools")
        if pname not in hints:
            raise UserError(
                f"tool {tool_name!r}: parameter {pname!r} needs a type hint "
                "so the planner and validator know what it takes"
            )
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (hints[pname], default)
    model = create_model(  # type: ignore[call-overload]
        f"{tool_name.replace('.', '_').replace('-', '_')}_args",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        **fields,
    )
    return ToolSpec(
        name=tool_name,
        fn=fn,
        description=description or summary or tool_name,
        params_model=model,
        param_descriptions=param_docs,
        output_fields=_output_fields(hints.get("return", inspect.Signature.empty)),
        output_kinds=_output_kinds(hints.get("return")),
        result_kind=kind_of(hints.get("return")),
        question_params=frozenset(p for p, (hint, _) in fields.items() if _is_question(hint)),
        idempotent=idempotent,
        timeout_s=timeout_s,
        retries=retries,
        is_async=inspect.iscoroutinefunction(fn),
        inline=inline and not inspect.iscoroutinefunction(fn),
    )


def _is_question(hint: Any) -> bool:
    """Whether a parameter is typed `Question` (or `Question | None`)."""
    options = (
        typing.get_args(hint)
        if typing.get_origin(hint) in (typing.Union, types.UnionType)
        else (hint,)
    )
    return any(option is Question for option in options)


class ToolRegistry:
    """Name → ToolSpec. Registering a name twice replaces the old tool."""

    def __init__(self, specs: list[ToolSpec] | None = None) -> None:
        self._specs: dict[str, ToolSpec] = {}
        for spec in specs or []:
            self.add(spec)

    def add(self, spec: ToolSpec) -> ToolSpec:
        self._specs[spec.name] = spec
        return spec

    def reads_question(self, name: str) -> bool:
        """Whether tool `name` is registered and takes a `Question` (it answers in words)."""
        spec = self._specs.get(name)
        return spec is not None and bool(spec.question_params)

    @overload
    def tool(self, fn: ToolFn, /) -> ToolFn: ...
    @overload
    def tool(
        self,
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
        self,
        fn: ToolFn | None = None,
        /,
        *,
        name: str | None = None,
        idempotent: bool = False,
        timeout_s: float | None = None,
        retries: int | None = None,
        inline: bool | None = None,
    ) -> ToolFn | Callable[[ToolFn], ToolFn]:
        """Register `fn` as a tool; usable bare (`@reg.tool`) or with options."""

        def register(f: ToolFn) -> ToolFn:
            spec = self.add(
                make_spec(
                    f,
                    name=name,
                    idempotent=idempotent,
                    timeout_s=timeout_s,
                    retries=retries,
                    inline=inline,
                )
            )
            # A Toolkit built from the function finds its spec (name, options) here.
            with contextlib.suppress(AttributeError, TypeError):
                f.__veritask_tool__ = spec  # type: ignore[attr-defined]
            return f

        return register(fn) if fn is not None else register

    def get(self, name: str) -> ToolSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownToolError(name, list(self._specs)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def copy(self) -> ToolRegistry:
        return ToolRegistry(list(self._specs.values()))

    def catalog(self) -> list[dict[str, Any]]:
        """The tools as the planner sees them: name, description, argument schema."""
        return [self._specs[n].catalog_entry() for n in self.names()]


def spec_of(fn_or_spec: ToolFn | ToolSpec) -> ToolSpec:
    """The ToolSpec of a `@tool` function (or of a plain function, built on the spot)."""
    if isinstance(fn_or_spec, ToolSpec):
        return fn_or_spec
    spec = getattr(fn_or_spec, "__veritask_tool__", None)
    if isinstance(spec, ToolSpec):
        return spec
    if not callable(fn_or_spec):
        raise UserError(f"{fn_or_spec!r} is not a tool: pass @tool functions or ToolSpecs")
    return make_spec(fn_or_spec)
