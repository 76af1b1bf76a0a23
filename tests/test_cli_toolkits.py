"""`run`/`plan` with the user's own tools: --import (toolkits), --tools, the JSON contracts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veritask.cli import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)  # `--import examples.shop` resolves from the repo root
    for name in list(os.environ):
        if name.startswith("VERITASK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("VERITASK_STORE", f"sqlite:///{tmp_path}/runs.db")
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_plan_of_an_empty_question_is_refused_without_a_model_call(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("plan", "   ", "--json", "--model", "openai:no-such-model")
    assert result.exit_code == 2
    assert "the question is empty" in result.stderr


def test_plan_json_refusal_is_still_json_with_exit_1(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("plan", "What colour is the Gadget?", "--import", "examples.shop", "--json")
    assert result.exit_code == 1, result.stderr
    payload = json.loads(result.stdout)
    assert payload["plan"] is None
    assert any("colour" in p for p in payload["problems"])


def test_geography_refuses_a_gdp_question_before_any_model_call(invoke) -> None:  # type: ignore[no-untyped-def]
    # A model that cannot exist: reaching it would fail the command differently.
    result = invoke("plan", "What is the GDP of France?", "--json", "--model", "openai:none")
    assert result.exit_code == 1, result.stderr
    assert json.loads(result.stdout)["plan"] is None


def test_tools_json_declarations_are_planned_for(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    decl = tmp_path / "tools.json"
    decl.write_text(
        json.dumps(
            [
                {
                    "name": "math.factorial",
                    "description": "The factorial of a whole number.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {"n": {"type": "integer"}},
                        "required": ["n"],
                    },
                }
            ]
        )
    )
    result = invoke("plan", "What is the weather in Oslo?", "--tools", str(decl), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["plan"] is None
    missing = invoke("plan", "What is 5 factorial?", "--tools", str(tmp_path / "nope.json"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_unknown_toolkit_is_a_usage_error_that_suggests_import(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("plan", "What is the price of a Widget?", "--toolkit", "shopz")
    assert result.exit_code == 2
    assert "unknown toolkit 'shopz'" in result.stderr and "--import" in result.stderr


@pytest.mark.integration
def test_run_with_an_imported_toolkit_uses_only_its_tools(invoke) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("llama_cpp")
    question = "What is the price of a Sprocket?"
    result = invoke("run", question, "--import", "examples.shop", "--json")
    assert result.exit_code in (0, 1), result.stderr
    payload = json.loads(result.stdout)
    assert {t["tool"] for t in payload["tasks"]} <= {"product", "calc", "larger", "smaller"}
    if payload["status"] == "answered":
        assert payload["value"] == pytest.approx(2.8)


def test_a_model_that_cannot_be_built_fails_before_any_run_exists(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = invoke("run", "What is the population of France?", "--model", "nonsense")
    assert result.exit_code == 2 and "unknown model 'nonsense'" in result.stderr
    runs = invoke("runs", "--json")
    assert json.loads(runs.stdout) == []
