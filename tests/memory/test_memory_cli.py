from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from veritask.memory.cli import register
from veritask.memory.episodic import PlanMemory
from veritask.types import Plan, Task


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
    monkeypatch.delenv("VERITASK_MEMORY_PATH", raising=False)
    return tmp_path


def stock(path: Path) -> None:
    plan = Plan(
        tasks=[
            Task(id="t1", tool="country_facts", args={"country": "France"}),
            Task(id="t2", tool="country_facts", args={"country": "Spain"}),
            Task(id="t3", tool="calc", args={"expression": "$t1.population + $t2.population"}),
        ]
    )
    with PlanMemory(path) as memory:
        memory.remember(
            "What is the combined population of France and Spain?", plan, confidence=0.9
        )
        memory.remember(
            "What is the distance between Paris and Rome?",
            Plan(
                tasks=[
                    Task(id="t1", tool="distance_km", args={"place_a": "Paris", "place_b": "Rome"})
                ]
            ),
            confidence=0.75,
            run_id="run-2",
        )


def test_list_on_a_missing_memory_creates_nothing(app: typer.Typer, project: Path) -> None:
    result = CliRunner().invoke(app, ["memory", "list"])
    assert result.exit_code == 0, result.output
    assert "no remembered plans in .veritask/memory.db" in result.output
    assert not (project / ".veritask").exists()
    result = CliRunner().invoke(app, ["memory", "list", "--json"])
    assert json.loads(result.output) == []


def test_list_shows_abstract_questions_plan_shapes_and_confidence(
    app: typer.Typer, project: Path
) -> None:
    stock(project / ".veritask" / "memory.db")
    result = CliRunner().invoke(app, ["memory", "list"])
    assert result.exit_code == 0, result.output
    assert "What is the combined population of X and Y?" in result.output
    assert "country_facts×2 → calc" in result.output
    assert "0.90" in result.output and "0.75" in result.output
    assert "France" not in result.output


def test_list_json_and_limit(app: typer.Typer, project: Path) -> None:
    stock(project / ".veritask" / "memory.db")
    result = CliRunner().invoke(app, ["memory", "list", "--json", "--limit", "1"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["abstract_question"] == "What is the distance between X and Y?"
    assert row["tools"] == ["distance_km"]
    assert row["confidence"] == 0.75
    assert row["uses"] == 1
    assert row["run_id"] == "run-2"
    assert row["abstract_plan"]["tasks"][0]["args"] == {"place_a": "X", "place_b": "Y"}


def test_list_shows_reuse_hits_and_demoted_plans(app: typer.Typer, project: Path) -> None:
    path = project / ".veritask" / "memory.db"
    stock(path)
    with PlanMemory(path) as memory:
        combined, distance = sorted(memory.list(), key=lambda e: e.tools)
        memory.record_reuse(combined.key, succeeded=True, run_id="run-3")
        memory.record_reuse(combined.key, succeeded=True, run_id="run-4")
        memory.record_reuse(distance.key, succeeded=False, reason="the answer was abstained")
    result = CliRunner().invoke(app, ["memory", "list"])
    assert result.exit_code == 0, result.output
    assert "hits" in result.output.splitlines()[0]
    line = next(x for x in result.output.splitlines() if "combined population" in x)
    assert line.split()[:2] == ["1", "2"]  # uses, hits
    assert "(demoted)" in next(x for x in result.output.splitlines() if "distance" in x)
    rows = json.loads(CliRunner().invoke(app, ["memory", "list", "--json"]).output)
    by_tool = {row["tools"][0]: row for row in rows}
    assert by_tool["country_facts"]["hits"] == 2 and not by_tool["country_facts"]["demoted"]
    assert by_tool["distance_km"]["demoted"] and by_tool["distance_km"]["failures"] == 1


def test_path_comes_from_the_option_then_the_environment(
    app: typer.Typer, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock(project / "env.db")
    monkeypatch.setenv("VERITASK_MEMORY_PATH", str(project / "env.db"))
    result = CliRunner().invoke(app, ["memory", "list", "--json"])
    assert len(json.loads(result.output)) == 2
    result = CliRunner().invoke(app, ["memory", "list", "--json", "--path", str(project / "x.db")])
    assert json.loads(result.output) == []


def test_clear_with_yes_says_how_many_were_removed(app: typer.Typer, project: Path) -> None:
    path = project / "m.db"
    stock(path)
    result = CliRunner().invoke(app, ["memory", "clear", "--yes", "--path", str(path)])
    assert result.exit_code == 0, result.output
    assert f"removed 2 remembered plan(s) from {path}" in result.output
    assert len(PlanMemory(path)) == 0


def test_clear_asks_first(app: typer.Typer, project: Path) -> None:
    path = project / "m.db"
    stock(path)
    declined = CliRunner().invoke(app, ["memory", "clear", "--path", str(path)], input="n\n")
    assert declined.exit_code == 1
    assert "nothing removed" in declined.output
    assert len(PlanMemory(path)) == 2
    agreed = CliRunner().invoke(app, ["memory", "clear", "--path", str(path)], input="y\n")
    assert agreed.exit_code == 0, agreed.output
    assert "Forget 2 remembered plan(s)" in agreed.output
    assert "removed 2" in agreed.output


def test_clear_on_a_missing_memory(app: typer.Typer, project: Path) -> None:
    result = CliRunner().invoke(app, ["memory", "clear", "--yes"])
    assert result.exit_code == 0
    assert "nothing to clear" in result.output
    assert not (project / ".veritask").exists()


@pytest.mark.parametrize("command", [["list"], ["clear", "--yes"]])
def test_a_broken_file_is_one_line_and_a_non_zero_exit(
    app: typer.Typer, project: Path, command: list[str]
) -> None:
    (project / "bad.db").write_text("not a database " * 100)
    result = CliRunner().invoke(app, ["memory", *command, "--path", "bad.db"])
    assert result.exit_code == 3
    assert result.output.strip().count("\n") == 0
    assert result.output.startswith("error: cannot open plan memory bad.db")
    assert "Traceback" not in result.output


def test_a_directory_is_a_usage_error(app: typer.Typer, project: Path) -> None:
    result = CliRunner().invoke(app, ["memory", "list", "--path", str(project)])
    assert result.exit_code == 2
    assert "is a directory" in result.output


def test_veritask_registers_the_memory_commands() -> None:
    from veritask.cli import app as veritask_app

    result = CliRunner().invoke(veritask_app, ["memory", "--help"])
    assert result.exit_code == 0, result.output
    assert "list" in result.output and "clear" in result.output
