"""`veritask ingest` and `veritask kb list|show|rm` through the real CLI app."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veritask.cli import app

FIXTURE = Path(__file__).parent / "kb_fixture"
runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VERITASK_KB_DIR", str(tmp_path / "kb"))
    monkeypatch.setenv("VERITASK_EMBEDDER", "none")  # CLI plumbing, not retrieval quality
    shutil.copytree(FIXTURE, tmp_path / "docs")
    return tmp_path


def test_ingest_then_list_show_rm(env: Path) -> None:
    res = runner.invoke(app, ["ingest", str(env / "docs"), "--kb", "manual"])
    assert res.exit_code == 0, res.output
    assert "5 added" in res.stderr
    listed = runner.invoke(app, ["kb", "list"])
    assert listed.exit_code == 0 and listed.stdout.split()[:3] == ["manual", "5", "files"]
    shown = runner.invoke(app, ["kb", "show", "manual", "--json"])
    data = json.loads(shown.stdout)
    assert data["chunks"] > 5
    assert {Path(f["path"]).name for f in data["files"]} == {p.name for p in FIXTURE.iterdir()}
    gone = runner.invoke(app, ["kb", "rm", "manual"])
    assert gone.exit_code == 0 and not (env / "kb" / "manual.db").exists()
    assert runner.invoke(app, ["kb", "rm", "manual"]).exit_code == 2
    assert runner.invoke(app, ["kb", "show", "manual"]).exit_code == 2


def test_binary_and_missing_paths_exit_2_and_lose_nothing(env: Path) -> None:
    assert runner.invoke(app, ["ingest", str(env / "docs"), "--kb", "m"]).exit_code == 0
    before = json.loads(runner.invoke(app, ["kb", "show", "m", "--json"]).stdout)
    blob = env / "image.md"
    blob.write_bytes(b"\x00\x01\x02\xff" * 64)
    res = runner.invoke(app, ["ingest", str(blob), str(env / "missing.txt"), "--kb", "m"])
    assert res.exit_code == 2
    assert "binary file" in res.stderr and "no such file" in res.stderr
    assert "nothing could be ingested" in res.stderr
    assert "Traceback" not in res.output
    after = json.loads(runner.invoke(app, ["kb", "show", "m", "--json"]).stdout)
    assert after == before


def test_mixed_good_and_bad_paths_exit_0_and_list_the_bad(env: Path) -> None:
    res = runner.invoke(
        app, ["ingest", str(env / "docs" / "notes.txt"), str(env / "nope.md"), "--kb", "m"]
    )
    assert res.exit_code == 0
    assert "1 added" in res.stderr and "skipped" in res.stderr and "nope.md" in res.stderr


def test_bad_kb_name_is_a_usage_error(env: Path) -> None:
    res = runner.invoke(app, ["ingest", str(env / "docs"), "--kb", "../escape"])
    assert res.exit_code == 2 and "must be letters" in res.stderr


def test_exec_with_kb_runs_a_plan_that_quotes_a_document(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VERITASK_EMBEDDER")  # the reader's confidence needs the real embedder
    assert runner.invoke(app, ["ingest", str(env / "docs"), "--kb", "manual"]).exit_code == 0
    plan = env / "plan.json"
    question = "How long does the deck oven need to heat up?"
    plan.write_text(
        json.dumps(
            {
                "goal": question,
                "tasks": [{"id": "t1", "tool": "kb_answer", "args": {"question": question}}],
                "answer_template": "{$t1.answer}",
            }
        )
    )
    store = f"sqlite:///{env / 'runs.db'}"
    res = runner.invoke(app, ["exec", str(plan), "--kb", "manual", "--json", "--store", store])
    assert res.exit_code == 0, res.output
    assert "45 minutes" in json.loads(res.stdout)["value"]
    # Without --kb the plan names a tool nothing registered: a usage error that says so.
    bare = runner.invoke(app, ["exec", str(plan), "--json", "--store", store])
    assert bare.exit_code == 2 and "kb_answer" in bare.output
