"""SIGKILL `veritask exec` at a random moment, resume, settle what is unknown, resume:
no completed task is lost, no non-idempotent side effect happens twice, every run
ends `succeeded` with one consistent log. `benchmarks/reliability.py` runs the same
trial 100 times on 30-task plans; here a few short ones keep `make test` fast."""

from __future__ import annotations

import random
import signal
from pathlib import Path

import pytest

from helpers.reliability import kill_trial, two_resumers_trial

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


@pytest.mark.parametrize("seed", [1, 2])
def test_a_killed_non_idempotent_run_loses_nothing_and_repeats_nothing(
    tmp_path: Path, seed: int
) -> None:
    trial = kill_trial(tmp_path, random.Random(seed), idempotent=False, tasks=12)
    assert not trial.finished_before_kill  # the kill landed mid-run
    assert trial.problems == []
    assert (trial.lost, trial.duplicated) == (0, 0)
    assert trial.settled >= 1  # a task was mid-call: the user settled it from the ledger
    assert trial.resumed


def test_a_killed_idempotent_run_reruns_only_what_was_interrupted(tmp_path: Path) -> None:
    trial = kill_trial(tmp_path, random.Random(3), idempotent=True, tasks=12)
    assert not trial.finished_before_kill
    assert trial.problems == []
    assert trial.lost == 0 and trial.settled == 0
    assert 1 <= trial.reran <= 4  # at most the calls in flight (concurrency 4) ran again
    assert trial.resumed


def test_two_resumers_at_once_one_drives_one_is_refused(tmp_path: Path) -> None:
    trial = two_resumers_trial(tmp_path, tasks=12, held=4)
    assert trial.problems == []
    assert (trial.drove, trial.refused, trial.duplicated) == (1, 1, 0)
