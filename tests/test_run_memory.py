"""`veritask run` on the embedded model stays under 1 GiB resident (a promise of the README)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# The child's peak, read by a parent that ran nothing else: pytest's own children
# (servers, workers of other tests) must not count.
MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(done.stdout)
"""


@pytest.mark.integration
def test_a_question_run_on_the_embedded_model_stays_under_a_gib(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-c",
        "from veritask.cli import main; main()",
        "run",
        "What is the combined population of France and Spain?",
        "--json",
        "--store",
        f"sqlite:///{tmp_path / 'runs.db'}",
    ]
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        cwd=tmp_path,
    )
    first, _, output = done.stdout.partition("\n")
    code, peak_kib = (int(x) for x in first.split())
    # The run must end with an answer or an honest abstention (exit 1): the plan's
    # samples are drawn at a temperature, and in about one run in a hundred two of
    # them agree on city_facts for the countries, which outvotes the greedy plan and
    # ends in an abstention. Answering this question is tested elsewhere; here, memory.
    assert code in (0, 1), output
    assert json.loads(output)["status"] in ("answered", "abstained"), output
    assert peak_kib / 1024 < 1024, f"veritask run peaked at {peak_kib / 1024:.0f} MiB"
