"""Tools declared in JSON (`--tools`): plannable, refused when run, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veritask import Orchestrator, Plan, Task, UserError
from veritask.planner.catalog import Catalog
from veritask.tools.declared import load_declarations
from veritask.tools.toolkit import brought_toolkits

DECLS = [
    {
        "name": "math.factorial",
        "description": "The factorial of a whole number.",
        "parameters": {
            "type": "object",
            "properties": {"n": {"type": "integer", "description": "the number"}},
            "required": ["n"],
        },
    },
    {
        "name": "weather.now",
        "description": "Current weather at a place.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "place": {"type": "string"},
                "unit": {"type": "string", "enum": ["C", "F"]},
            },
            "required": ["place"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {"temperature": {"type": "number"}, "sky": {"type": "string"}},
        },
    },
]


@pytest.fixture
def decl_file(tmp_path: Path) -> Path:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(DECLS))
    return path


def test_declarations_become_specs_with_schemas_and_fields(decl_file: Path) -> None:
    fact, weather = load_declarations(decl_file)
    assert fact.name == "math.factorial" and fact.declared_only
    assert fact.required_params == ["n"]
    assert weather.param_names == ["place", "unit"]
    assert weather.param_enum("unit") == ["C", "F"]
    assert weather.output_fields == {"temperature", "sky"}
    assert weather.output_kinds == {"temperature": "number", "sky": "text"}
    assert fact.check_args({"n": "x"}) and not fact.check_args({"n": 5})


def test_declared_tools_validate_plans_but_refuse_to_run(decl_file: Path) -> None:
    kits = brought_toolkits([], [str(decl_file)], [])
    assert kits is not None and kits[0].name == "tools"
    catalog = Catalog.from_toolkits(kits)
    assert "weather.now" in catalog.registry
    orch = Orchestrator("memory://", toolkits=kits, memory=False)
    plan = Plan(
        tasks=[Task(id="w", tool="weather.now", args={"place": "Oslo"})],
        answer_template="{$w.temperature} degrees",
    )
    with pytest.raises(UserError, match=r"'weather\.now', declared in JSON.*--import"):
        orch.execute(plan)
    bad = Plan(
        tasks=[Task(id="w", tool="weather.now", args={"place": "Oslo"})],
        answer_template="{$w.humidity}",
    )
    with pytest.raises(UserError, match="no field 'humidity'"):
        orch.execute(bad)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("not json", "not valid JSON"),
        ("[]", "non-empty JSON array"),
        ('[{"description": "x"}]', "has no 'name'"),
        ('[{"name": "a", "parameters": {"type": "string"}}]', "type object"),
        (
            '[{"name": "a", "parameters": {"type": "object", "required": ["q"]}}]',
            "required names missing properties",
        ),
        ('[{"name": "a"}, {"name": "a"}]', "more than once"),
    ],
)
def test_malformed_declarations_are_clear_errors(
    tmp_path: Path, content: str, fragment: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(UserError, match=fragment):
        load_declarations(path)


def test_missing_declaration_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_declarations(tmp_path / "nope.json")
