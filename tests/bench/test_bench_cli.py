"""`veritask bench` through the real app: default command, score, compare, show."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import veritask.models
from veritask.cli import app

from ._helpers import planner_model, write_suite
from .test_score import write_files


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Runs in tmp_path; the configured model is replaced by the scripted planner."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("VERITASK_"):
            monkeypatch.delenv(name)
    model = planner_model()
    monkeypatch.setattr(veritask.models, "get_provider", lambda name, settings=None: model)
    return CliRunner()


def test_bench_suite_out_runs_the_default_command_and_resumes(
    runner: CliRunner, tmp_path: Path
) -> None:
    suite = write_suite(tmp_path / "suite.jsonl")
    store = f"sqlite:///{tmp_path}/runs.db"
    out = tmp_path / "r.jsonl"
    first = runner.invoke(app, ["bench", str(suite), "--out", str(out), "--store", store])
    assert first.exit_code == 0, first.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["status"] for r in rows] == ["answered", "answered", "abstained"]
    again = runner.invoke(app, ["bench", str(suite), "--out", str(out), "--store", store])
    assert again.exit_code == 0 and "3 of 3 questions already" in again.output
    assert len(out.read_text().splitlines()) == 3
    shown = runner.invoke(app, ["show", rows[0]["run_id"], "--store", store, "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["run_id"] == rows[0]["run_id"]


def test_unknown_mode_and_missing_suite_are_usage_errors(runner: CliRunner, tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite.jsonl")
    bad = runner.invoke(app, ["bench", str(suite), "--out", "r.jsonl", "--mode", "swarm"])
    assert bad.exit_code == 2 and "unknown mode" in bad.output
    missing = runner.invoke(app, ["bench", "nope.jsonl", "--out", "r.jsonl"])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_score_json_and_side_by_side(runner: CliRunner, tmp_path: Path) -> None:
    suite, results = write_files(tmp_path)
    got = runner.invoke(app, ["bench", "score", str(suite), str(results), "--json"])
    assert got.exit_code == 0, got.output
    data = json.loads(got.stdout)
    assert data["n"] == 7 and data["confident_wrong"] == 2
    assert data["accuracy"] == pytest.approx(3 / 7)
    two = runner.invoke(app, ["bench", "score", str(suite), str(results), str(results)])
    assert two.exit_code == 0 and "selective accuracy" in two.stdout
    assert two.stdout.count("50.0%") >= 2  # the same selective accuracy in both columns


def test_compare_runs_every_mode_and_writes_report_and_plots(
    runner: CliRunner, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    suite = write_suite(tmp_path / "suite.jsonl")
    out_dir = tmp_path / "cmp"
    store = f"sqlite:///{tmp_path}/runs.db"
    args = ["bench", "compare", str(suite), "--out-dir", str(out_dir), "--store", store]
    got = runner.invoke(app, [*args, "--modes", "orchestrated", "--limit", "2"])
    assert got.exit_code == 0, got.output
    assert len((out_dir / "results-orchestrated.jsonl").read_text().splitlines()) == 2
    faulty = runner.invoke(
        app, [*args, "--modes", "orchestrated", "--limit", "2", "--faults", "0.3"]
    )
    assert faulty.exit_code == 0, faulty.output
    report = (out_dir / "report.md").read_text()
    assert "orchestrated (faults 0.3)" in report
    assert "## Recovery under injected faults" in report
    for png in (
        "risk_coverage.png",
        "accuracy_coverage.png",
        "latency.png",
        "tokens.png",
        "recovery.png",
    ):
        assert (out_dir / png).read_bytes()[:4] == b"\x89PNG"


def test_score_needs_a_suite_with_answers(runner: CliRunner, tmp_path: Path) -> None:
    suite = tmp_path / "plain.jsonl"
    suite.write_text('{"id": "a", "question": "q?"}\n')
    results = tmp_path / "r.jsonl"
    results.write_text('{"id": "a", "status": "answered"}\n')
    got = runner.invoke(app, ["bench", "score", str(suite), str(results)])
    assert got.exit_code == 2 and "no `answer` fields" in got.output


def test_rag_mode_needs_a_knowledge_base(runner: CliRunner, tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite.jsonl")
    got = runner.invoke(app, ["bench", str(suite), "--out", "r.jsonl", "--mode", "rag"])
    assert got.exit_code == 2 and "--kb NAME" in got.output
    assert not (tmp_path / "r.jsonl").exists()
