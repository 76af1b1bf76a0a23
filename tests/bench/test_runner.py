"""The suite runner with a scripted model: result lines, resume, failures, time cap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veritask.bench import RESULT_FIELDS, BenchConfig, load_suite, run_suite
from veritask.bench.runner import read_meta
from veritask.store import open_store
from veritask.testing import HANG, ScriptedModel

from ._helpers import france_population, planner_model, write_suite


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_smoke_writes_one_exact_line_per_question(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path / "suite.jsonl"))
    store = open_store("memory://")
    out = tmp_path / "results.jsonl"
    report = run_suite(suite, out, BenchConfig(), model=planner_model(), store=store)
    rows = _lines(out)
    assert [r["id"] for r in rows] == ["s1", "s2", "s3"]
    assert all(list(r) == list(RESULT_FIELDS) for r in rows)
    by_id = {r["id"]: r for r in rows}
    assert by_id["s1"]["status"] == "answered"
    assert by_id["s1"]["value"] == france_population()
    assert by_id["s2"]["value"] == "Europe"
    assert by_id["s3"]["status"] == "abstained" and by_id["s3"]["value"] is None
    assert by_id["s1"]["input_tokens"] > 0 and by_id["s1"]["latency_s"] >= 0
    # every run id is a real run in the store: `veritask show` can open it
    assert all(store.events(r["run_id"]) for r in rows)
    assert len(report.written) == 3 and report.skipped == []


def test_resume_skips_finished_ids(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path / "suite.jsonl"))
    out = tmp_path / "results.jsonl"
    model = planner_model()
    run_suite(suite, out, BenchConfig(limit=2), model=model, store=open_store("memory://"))
    calls_after_two = len(model.calls)
    report = run_suite(suite, out, BenchConfig(), model=model, store=open_store("memory://"))
    assert report.skipped == ["s1", "s2"]
    assert [r["id"] for r in report.written] == ["s3"]
    assert [r["id"] for r in _lines(out)] == ["s1", "s2", "s3"]
    assert len(model.calls) == calls_after_two + 2  # two agreeing plan samples, s3 only


def test_truncated_last_line_is_run_again(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path / "suite.jsonl"))
    out = tmp_path / "results.jsonl"
    store = open_store("memory://")
    run_suite(suite, out, BenchConfig(limit=1), model=planner_model(), store=store)
    out.write_text(out.read_text() + '{"id": "s2", "stat')  # killed mid-write
    report = run_suite(suite, out, BenchConfig(limit=2), model=planner_model(), store=store)
    assert [r["id"] for r in report.written] == ["s2"]
    assert [r["id"] for r in _lines(out)] == ["s1", "s2"]


def test_a_failing_question_is_recorded_and_the_suite_goes_on(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path / "suite.jsonl"))
    out = tmp_path / "results.jsonl"

    def plans(call):  # type: ignore[no-untyped-def]
        if "France" in call.prompt:
            raise RuntimeError("model crashed")
        return planner_model().default(call)

    model = ScriptedModel(default=plans)
    run_suite(suite, out, BenchConfig(), model=model, store=open_store("memory://"))
    rows = {r["id"]: r for r in _lines(out)}
    assert rows["s1"]["status"] == "failed"
    assert "RuntimeError: model crashed" in rows["s1"]["answer"]
    assert rows["s2"]["status"] == "answered"


def test_a_hung_question_is_cut_at_the_wall_clock_cap(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path / "suite.jsonl"))[:1]
    out = tmp_path / "results.jsonl"
    config = BenchConfig(question_timeout_s=0.05)
    store = open_store("memory://")
    run_suite(suite, out, config, model=ScriptedModel(default=HANG), store=store)
    (row,) = _lines(out)
    assert row["status"] == "failed" and row["answer"].startswith("timed out")
    assert store.events(row["run_id"])  # the interrupted run is still inspectable


def test_retry_failed_runs_failed_ids_again(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path / "suite.jsonl"))[:1]
    out = tmp_path / "results.jsonl"
    store = open_store("memory://")
    run_suite(
        suite,
        out,
        BenchConfig(question_timeout_s=0.05),
        model=ScriptedModel(default=HANG),
        store=store,
    )
    again = run_suite(suite, out, BenchConfig(), model=planner_model(), store=store)
    assert again.skipped == ["s1"]
    retried = run_suite(
        suite, out, BenchConfig(retry_failed=True), model=planner_model(), store=store
    )
    assert [r["status"] for r in retried.written] == ["answered"]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_faults_are_recorded_and_never_crash_the_suite(tmp_path: Path, concurrency: int) -> None:
    suite = load_suite(write_suite(tmp_path / "suite.jsonl"))
    out = tmp_path / "results.jsonl"
    config = BenchConfig(faults=0.5, seed=3, concurrency=concurrency)
    run_suite(suite, out, config, model=planner_model(), store=open_store("memory://"))
    rows = _lines(out)
    assert sorted(r["id"] for r in rows) == ["s1", "s2", "s3"]
    assert all(r["status"] in {"answered", "partial", "abstained", "failed"} for r in rows)
    meta = read_meta(out)
    assert meta["config"]["faults"] == 0.5
    assert sum(sum(c.values()) for c in meta["faults"].values()) > 0
