"""Tools declared in JSON: plannable, not runnable.

`--tools FILE.json` takes an array of function declarations in the OpenAI
shape `{"name", "description", "parameters": <JSON Schema>}`; an MCP-style
`inputSchema` is accepted for `parameters`, and an optional `outputSchema`
names the fields a plan may reference (`$t1.field`). Such a tool has no
implementation, so a plan may be made with it (`veritask plan`) but not run:
running one fails before the run starts, naming the tool and saying how to
provide it. This is the base for consuming MCP servers' tools later.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, create_model

from veritask.errors import UserError
from veritask.tools.registry import ToolSpec

_JSON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list,
    "object": dict,
}
_KINDS = {"string": "text", "integer": "number", "number": "number", "boolean": "bool"}


def _python_type(schema: dict[str, Any]) -> Any:
    if schema.get("enum"):
        return Literal[tuple(schema["enum"])]
    kind = schema.get("type", "string")
    if isinstance(kind, list):  # ["string", "null"]
        kinds = [k for k in kind if k != "null"]
        base = _JSON_TYPES.get(kinds[0] if kinds else "string", Any)
        return base | None if "null" in kind else base
    return _JSON_TYPES.get(kind, Any)


def _kind(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "text"
    kind = schema.get("type", "")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "")
    return _KINDS.get(kind, "list" if kind == "array" else "other")


def _not_implemented(name: str, origin: str) -> Any:
    def run(**_: Any) -> Any:
        raise UserError(
            f"tool {name!r} is only declared (in {origin}) and has no implementation; "
            "--import a module that implements it with @tool to run this plan"
        )

    return run


def declared_spec(decl: Any, origin: str) -> ToolSpec:
    """One declaration → a ToolSpec whose function refuses to run."""
    if not isinstance(decl, dict):
        raise UserError(f"{origin}: each declaration must be an object with a name")
    if "function" in decl and isinstance(decl["function"], dict):  # {"type": "function", ...}
        decl = decl["function"]
    name = decl.get("name")
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"{origin}: a declaration has no 'name'")
    where = f"{origin}: tool {name!r}"
    params = decl.get("parameters", decl.get("inputSchema", {"type": "object"}))
    if not isinstance(params, dict) or params.get("type", "object") != "object":
        raise UserError(f"{where}: 'parameters' must be a JSON Schema of type object")
    props = params.get("properties", {}) or {}
    required = set(params.get("required", []) or [])
    unknown = required - set(props)
    if unknown:
        raise UserError(f"{where}: required names missing properties: {sorted(unknown)}")
    fields: dict[str, Any] = {}
    descriptions: dict[str, str] = {}
    for pname, pschema in props.items():
        if not isinstance(pschema, dict):
            raise UserError(f"{where}: property {pname!r} must be a JSON Schema object")
        hint = _python_type(pschema)
        fields[pname] = (hint, ...) if pname in required else (hint | None, None)
        if pschema.get("description"):
            descriptions[pname] = str(pschema["description"])
    model = create_model(  # type: ignore[call-overload]
        "".join(c if c.isalnum() else "_" for c in name) + "_args",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )
    out = decl.get("outputSchema")
    out_props = out.get("properties") if isinstance(out, dict) else None
    return ToolSpec(
        name=name,
        fn=_not_implemented(name, origin),
        description=str(decl.get("description") or name),
        params_model=model,
        param_descriptions=descriptions,
        output_fields=frozenset(out_props) if isinstance(out_props, dict) else None,
        output_kinds={k: _kind(v) for k, v in (out_props or {}).items() if isinstance(v, dict)},
        result_kind=_kind(out) if isinstance(out, dict) and not out_props else "other",
        # JSON Schema's `format` names what a string holds; "question" is veritask's
        # `Question` type (a reader tool: pass the question as asked).
        question_params=frozenset(
            p
            for p, ps in props.items()
            if ps.get("type") == "string" and ps.get("format") == "question"
        ),
        declared_only=True,
    )


def load_declarations(path: str | Path) -> list[ToolSpec]:
    """The tools declared in a JSON file: an array of declarations (or {"tools": [...]})."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"tools file {str(file)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read tools file {str(file)!r}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UserError(
            f"tools file {str(file)!r} is not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from None
    if isinstance(data, dict) and isinstance(data.get("tools"), list):
        data = data["tools"]  # an MCP tools/list result
    if not isinstance(data, list) or not data:
        raise UserError(
            f"tools file {str(file)!r} must hold a non-empty JSON array of declarations "
            '[{"name": ..., "description": ..., "parameters": {...}}]'
        )
    specs = [declared_spec(d, file.name) for d in data]
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"tools file {str(file)!r} declares {dupes} more than once")
    return specs


__all__ = ["declared_spec", "load_declarations"]
