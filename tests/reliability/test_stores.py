"""Stores under stress: several processes writing one SQLite file at once; a corrupt
file; a read-only one. Each ends with counts of zero or one clear error (exit 3, a
hint what to do, no traceback)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers.reliability import store_fault_trial, writers_trial


def test_processes_writing_one_sqlite_store_at_once(tmp_path: Path) -> None:
    trial = writers_trial(tmp_path, processes=4, runs=2, tasks=10)
    assert trial.problems == [] and trial.errors == 0
    assert (trial.gaps, trial.unfinished) == (0, 0)
    assert trial.events == 4 * 2 * (10 * 2 + 3)  # RunStarted, PlanAccepted, 2 per task, RunFinished


@pytest.mark.parametrize("command", [["runs"], ["show", "r1"]], ids=["runs", "show"])
def test_a_corrupt_store_is_one_clear_error(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "store").mkdir()
    done = store_fault_trial(tmp_path / "store", "corrupt", command)
    assert done.returncode == 3, done.stderr
    assert "file is not a database" in done.stderr and "move it aside" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1


needs_no_override = pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("setpriv") is None,
    reason="root writes anywhere; dropping CAP_DAC_OVERRIDE needs setpriv",
)


@needs_no_override
@pytest.mark.parametrize("command", [["runs"], ["exec", "store-plan.json"]], ids=["runs", "exec"])
def test_a_read_only_store_is_one_clear_error(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "store").mkdir()
    done = store_fault_trial(tmp_path / "store", "read-only", command)
    assert done.returncode == 3, done.stderr
    assert "readonly database" in done.stderr and "must be writable" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
