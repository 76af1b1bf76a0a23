"""`show --json` says what the command that made the run said, plus the evidence.

For a question run, `status`, `value`, `answer` and `confidence` equal those
`run --json` printed (the answer's, not the run's); for a plan run, `show
--json` equals `exec --json`. Both carry `evidence`: every source record of a
task that succeeded, and no failed look-up.
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import veritask.cli as cli_module
from veritask import Orchestrator
from veritask.cli import app
from veritask.models import ScriptedModel

SUM = (
    '1. country_facts("Peru")\n2. country_facts("Chile")\n'
    '3. calc("$1.population + $2.population")\nAnswer: Together they have {$3} people.\n'
)
PARTIAL = (
    '1. country_facts("Peru")\n2. country_facts("Narnia")\n'
    "Answer: Peru has {$1.population} people and Narnia {$2.population}.\n"
)


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`veritask …` in-process against a temporary store; `run` plans with a scripted model."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("VERITASK_"):
            monkeypatch.delenv(name)
    store = f"sqlite:///{tmp_path}/runs.db"
    runner = CliRunner()

    def call(*args: str, plan: str = SUM) -> dict[str, Any]:
        scripted = partial(Orchestrator, model=ScriptedModel(default=plan), memory=False)
        monkeypatch.setattr(cli_module, "Orchestrator", scripted)
        result = runner.invoke(app, [*args, "--store", store, "--json"])
        assert result.exit_code in (0, 1), result.output
        return dict(json.loads(result.stdout))

    return call


def test_a_question_run_shows_what_run_json_said(invoke: Any) -> None:
    ran = invoke("run", "What is the combined population of Peru and Chile?")
    shown = invoke("show", ran["run_id"])
    assert ran["status"] == "answered" and isinstance(ran["value"], int)
    for key in ("run_id", "status", "answer", "value", "confidence", "gaps"):
        assert shown[key] == ran[key], key
    assert shown["run_status"] == "succeeded"
    assert [t["id"] for t in shown["tasks"]] == [t["id"] for t in ran["tasks"]]
    assert shown["tasks"][2]["value"] == ran["value"]
    records = {(e["task_id"], e["record_id"]) for e in shown["evidence"]}
    assert {("t1", "PE"), ("t2", "CL")} <= records
    assert shown["claims"] and shown["claims"][0]["task_ids"] == ["t1", "t2", "t3"]


def test_a_failed_look_up_is_a_gap_not_evidence(invoke: Any) -> None:
    ran = invoke("run", "What is the population of Peru and of Narnia?", plan=PARTIAL)
    shown = invoke("show", ran["run_id"])
    assert shown["status"] == ran["status"] == "partial"
    assert shown["value"] is None and shown["confidence"] == ran["confidence"]
    assert {e["task_id"] for e in shown["evidence"]} == {"t1"}
    assert any("Narnia" in g for g in shown["gaps"])
    assert shown["tasks"][1]["error"]["message"].startswith("no country named 'Narnia'")


def test_a_plan_run_shows_what_exec_json_said(invoke: Any, tmp_path: Path) -> None:
    plan = {
        "goal": "sum",
        "tasks": [
            {"id": "a", "tool": "country_facts", "args": {"country": "Peru"}},
            {"id": "total", "tool": "calc", "args": {"expression": "$a.population + 1"}},
        ],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    ran = invoke("exec", str(path))
    shown = invoke("show", ran["run_id"])
    for key in ("run_id", "status", "value", "gaps", "tasks"):
        assert shown[key] == ran[key], key
    assert {e["task_id"] for e in shown["evidence"]} == {"a", "total"}
    assert shown["trace_id"]


def test_runs_json_lists_the_runs(invoke: Any) -> None:
    first = invoke("run", "What is the combined population of Peru and Chile?")
    listed = json.loads(
        CliRunner().invoke(app, ["runs", "--json", "--store", "sqlite:///runs.db"]).stdout
    )
    assert [r["run_id"] for r in listed] == [first["run_id"]]
    assert listed[0]["status"] == "succeeded" and listed[0]["tasks"] == 3
