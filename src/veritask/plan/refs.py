"""Task references: `$t3`, `$t3.field`, anywhere inside a task's args.

A reference is how one task consumes another's value. The same grammar is
used by validation (which references exist), the scheduler (what a task
waits for) and the runtime (substituting values), so it lives in one place.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

REF_PATTERN = re.compile(
    r"(?<![\w$])\$([A-Za-z_][A-Za-z0-9_]*)(?![\w:])((?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
)
"""`$id` optionally followed by `.field` parts. `$$` is not a reference, nor is
`$env:NAME` (an id followed by `:`), which names a secret (see `ENV_PATTERN`)."""

ENV_PATTERN = re.compile(r"(?<![\w$])\$env:([A-Za-z_][A-Za-z0-9_]*)")
"""`$env:NAME`: a secret read from the environment only when the task runs, so the
plan (and the log that stores it) keeps the name, never the value."""
_WHOLE_ENV = re.compile(r"^\s*" + ENV_PATTERN.pattern + r"\s*$")

_WHOLE_REF = re.compile(r"^\s*" + REF_PATTERN.pattern + r"\s*$")
_TEMPLATE_REF = re.compile(r"\{\s*" + REF_PATTERN.pattern + r"\s*\}")


@dataclass(frozen=True)
class Ref:
    """One reference: the task it names and the field path into its value."""

    task_id: str
    path: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "$" + ".".join((self.task_id, *self.path))


class RefError(LookupError):
    """A reference cannot be resolved (missing task value or field)."""


def _parse(match: re.Match[str]) -> Ref:
    path = tuple(p for p in match.group(2).split(".") if p)
    return Ref(match.group(1), path)


@functools.lru_cache(maxsize=8192)
def _string_refs(text: str) -> tuple[Ref, ...]:
    """Parsed once per distinct string: validation, scheduling and resolution all ask."""
    return tuple(_parse(m) for m in REF_PATTERN.finditer(text))


def refs_in(value: Any) -> tuple[Ref, ...]:
    """Every reference inside `value`: strings, nested lists and dict values.

    Called for every argument of every task during validation and scheduling,
    so the common cases (a plain string, a number) return without recursion.
    """
    kind = type(value)
    if kind is str:
        return _string_refs(value) if "$" in value else ()
    if kind in (int, float, bool) or value is None:
        return ()
    if kind is dict:  # before the Mapping check: an ABC isinstance costs ~10× more
        return tuple(r for v in value.values() for r in refs_in(v))
    if isinstance(value, Mapping):
        return tuple(r for v in value.values() for r in refs_in(v))
    if isinstance(value, list | tuple):
        return tuple(r for v in value for r in refs_in(v))
    if isinstance(value, str):
        return _string_refs(value) if "$" in value else ()
    return ()


def find_refs(value: Any) -> Iterator[Ref]:
    """Every reference inside `value` (see `refs_in`)."""
    return iter(refs_in(value))


def template_refs(template: str) -> list[Ref]:
    """References in an answer template, written `{$t3}` or `{$t3.field}`."""
    return [_parse(m) for m in _TEMPLATE_REF.finditer(template)]


def has_refs(value: Any) -> bool:
    return bool(refs_in(value))


def lookup(ref: Ref, values: Mapping[str, Any]) -> Any:
    """The value a reference points at, following its field path."""
    if ref.task_id not in values:
        raise RefError(f"{ref} refers to task {ref.task_id!r}, which has no value")
    current = values[ref.task_id]
    for i, part in enumerate(ref.path):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif (
            not isinstance(current, Mapping)
            and not part.startswith("_")
            and hasattr(current, part)
            and not callable(getattr(current, part))
        ):
            # Data attributes only: never methods or private state of a value.
            current = getattr(current, part)
        else:
            where = "$" + ".".join((ref.task_id, *ref.path[:i]))
            raise RefError(f"{ref}: the value of {where} has no field {part!r}")
    return current


def format_value(value: Any) -> str:
    """How a value reads when substituted inside a longer string."""
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, str | int):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


_SCALARS = frozenset({int, float, bool, type(None)})
"""Types that never hold a reference (exact types: a str subclass is checked as a str)."""


def resolve(value: Any, values: Mapping[str, Any]) -> Any:
    """`value` with every reference replaced by the value it names.

    A string that is exactly one reference becomes that value with its type
    (a number stays a number); references inside longer strings are formatted
    in place.
    """
    kind = type(value)
    if kind in _SCALARS:  # the common cases first, without an ABC isinstance
        return value
    if kind is dict:
        return {k: resolve(v, values) for k, v in value.items()}
    if isinstance(value, str):
        if "$" not in value:
            return value
        whole = _WHOLE_REF.match(value)
        if whole:
            return lookup(_parse(whole), values)
        return REF_PATTERN.sub(lambda m: format_value(lookup(_parse(m), values)), value)
    if isinstance(value, Mapping):
        return {k: resolve(v, values) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, values) for v in value]
    return value


class MissingSecret(LookupError):
    """A `$env:NAME` reference whose variable is not set where the task runs."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"environment variable {name} is not set (the plan refers to it as $env:{name}); "
            "set it where the run executes, then resume"
        )
        self.name = name


def env_names(value: Any) -> list[str]:
    """The environment variables `$env:NAME` strings inside `value` refer to."""
    if isinstance(value, str):
        return ENV_PATTERN.findall(value) if "$env:" in value else []
    if isinstance(value, Mapping):
        return [n for v in value.values() for n in env_names(v)]
    if isinstance(value, list | tuple):
        return [n for v in value for n in env_names(v)]
    return []


def resolve_env(value: Any, environ: Mapping[str, str]) -> Any:
    """`value` with every `$env:NAME` replaced by the variable's value (MissingSecret if
    unset). Done at the last moment before a call, on a copy that is never logged."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {k: resolve_env(v, environ) for k, v in value.items()}
    if isinstance(value, str):
        if "$env:" not in value:
            return value
        whole = _WHOLE_ENV.match(value)

        def get(name: str) -> str:
            if name not in environ:
                raise MissingSecret(name)
            return environ[name]

        if whole:
            return get(whole.group(1))
        return ENV_PATTERN.sub(lambda m: get(m.group(1)), value)
    if isinstance(value, Mapping):
        return {k: resolve_env(v, environ) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve_env(v, environ) for v in value]
    return value


def fill_template(template: str, values: Mapping[str, Any], missing: str = "[unknown]") -> str:
    """Fill `{$ref}` slots; a slot whose value is missing renders as `missing`."""

    def sub(m: re.Match[str]) -> str:
        try:
            return format_value(lookup(_parse(m), values))
        except RefError:
            return missing

    return _TEMPLATE_REF.sub(sub, template)
