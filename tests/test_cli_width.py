"""`veritask show`, `runs` and `show --events` in an 80-column terminal (or a pipe).

A real 3-task run (two geography look-ups and a sum) is executed by the real
command, then rendered by the real command with COLUMNS=80: every line fits,
ids and tool names are whole, values are summarised instead of cut or wrapped
into dozens of lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

VERITASK = Path(sys.executable).parent / "veritask"

PLAN = {
    "goal": "What is the combined population of France and Spain? " * 3,
    "tasks": [
        {"id": "france_lookup", "tool": "country_facts", "args": {"country": "France"}},
        {"id": "spain_lookup", "tool": "country_facts", "args": {"country": "Spain"}},
        {
            "id": "combined_total",
            "tool": "calc",
            "args": {
                "expression": "$france_lookup.population + $spain_lookup.population" + " + 0" * 100
            },
        },
    ],
    "answer_template": "The combined population of France and Spain is {$combined_total}.",
}


def veritask(*args: str, columns: int | None = 80) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERITASK_")}
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [str(VERITASK), *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(store URL, run id) of a finished 3-task run."""
    tmp = tmp_path_factory.mktemp("width")
    plan = tmp / "plan.json"
    plan.write_text(json.dumps(PLAN))
    store = f"sqlite:///{tmp}/runs.db"
    done = veritask("exec", str(plan), "--store", store, "--json")
    assert done.returncode == 0, done.stderr
    return store, json.loads(done.stdout)["run_id"]


def fits(output: str, width: int = 80) -> None:
    too_long = [line for line in output.splitlines() if len(line) > width]
    assert not too_long, "\n".join(too_long)


@pytest.mark.parametrize("columns", [80, None], ids=["COLUMNS=80", "pipe"])
def test_show_fits_80_columns_with_ids_and_tools_whole(
    run: tuple[str, str], columns: int | None
) -> None:
    store, run_id = run
    shown = veritask("show", run_id, "--store", store, columns=columns)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    fits(out)
    assert len(out.splitlines()) <= 30, out  # it was 88 lines: one field per line
    assert run_id in out  # never split across lines
    lines = out.splitlines()
    for tid in ("france_lookup", "spain_lookup", "combined_total"):
        assert any(tid in line for line in lines), tid
    assert sum("country_facts" in line for line in lines) >= 2  # not broken mid-word
    assert "country_f\n" not in out
    # Long values are summarised (shape and a count), not cut at a fixed width.
    assert "name=France" in out and "more" in out
    assert "name=Spain" in out


def test_a_long_argument_is_summarised_not_wrapped(run: tuple[str, str]) -> None:
    store, run_id = run
    out = veritask("show", run_id, "--store", store).stdout
    row = [line for line in out.splitlines() if "combined_total" in line and "│" in line]
    assert row and "expression=" in row[0] and "…" in row[0], out
    assert "+ 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0 + 0" not in out


def test_a_wide_terminal_shows_more_of_each_value(run: tuple[str, str]) -> None:
    store, run_id = run
    narrow = veritask("show", run_id, "--store", store, columns=80).stdout
    wide = veritask("show", run_id, "--store", store, columns=160).stdout
    fits(wide, 160)
    assert "capital=Paris" in wide and "capital=Paris" not in narrow.split("evidence")[0]


def test_runs_and_events_fit_80_columns(run: tuple[str, str]) -> None:
    store, run_id = run
    listed = veritask("runs", "--store", store)
    assert listed.returncode == 0, listed.stderr
    fits(listed.stdout)
    assert run_id in listed.stdout
    assert "What is the" in listed.stdout  # the goal keeps the room that is left
    events = veritask("show", run_id, "--events", "--store", store)
    fits(events.stdout)
    assert sum("TaskSucceeded" in line for line in events.stdout.splitlines()) == 3


def test_a_run_of_thousands_of_tasks_shows_the_first_and_the_failed(tmp_path: Path) -> None:
    from rich.console import Console

    from veritask import Orchestrator
    from veritask.cli_render import MAX_ROWS, state_view
    from veritask.runtime.state import fold

    tasks = [{"id": f"t{i}", "tool": "calc", "args": {"expression": f"{i}"}} for i in range(3000)]
    tasks[2500]["args"] = {"expression": "1/0"}
    orch = Orchestrator(store=f"sqlite:///{tmp_path}/runs.db", memory=False)
    result = orch.execute({"goal": "many", "tasks": tasks}, run_id="many")
    console = Console(width=80, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(state_view(fold(orch.store.events(result.run_id)), 80))
    shown = console.export_text()
    fits(shown)
    tasks_part, evidence_part = shown.split("evidence", 1)
    rows = [line for line in tasks_part.splitlines() if line.startswith("│ t")]
    assert len(rows) == MAX_ROWS // 2 + 1
    assert len([ln for ln in evidence_part.splitlines() if ln.startswith("│ t")]) == MAX_ROWS
    assert any(line.startswith("│ t2500 ") for line in rows)  # the failure is never hidden
    assert "of 3,000 tasks" in shown
