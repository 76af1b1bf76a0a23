"""The `veritask` command line, driven through typer's CliRunner (plus one real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from veritask.cli import app
from veritask.store import open_store

VERITASK = Path(sys.executable).parent / "veritask"
EXAMPLE = Path(__file__).parents[1] / "examples" / "combined_population.json"

VALID = {
    "goal": "combined population",
    "tasks": [
        {"id": "a", "tool": "calc", "args": {"expression": "67750000"}},
        {"id": "b", "tool": "calc", "args": {"expression": "48370000"}},
        {"id": "total", "tool": "calc", "args": {"expression": "$a + $b"}},
    ],
    "answer_template": "The combined population is {$total}.",
}

Invoke = Callable[..., Result]


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/runs.db"


@pytest.fixture
def cli(tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Invoke the app in tmp_path with `--store` pointing at tmp_path's database."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("VERITASK_"):
            monkeypatch.delenv(name)
    runner = CliRunner()

    def invoke(*args: str, use_store: bool = True) -> Result:
        extra = ["--store", store] if use_store else []
        return runner.invoke(app, [*args, *extra])

    return invoke


def write(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def run_json(cli: Invoke, *args: str) -> dict[str, Any]:
    result = cli(*args, "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def assert_clean_usage_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("error:")
    text = " ".join(result.stderr.split())
    for fragment in fragments:
        assert fragment in text, text


# -- exec ---------------------------------------------------------------------------


def test_exec_valid_plan_json(cli: Invoke, tmp_path: Path) -> None:
    result = cli("exec", str(write(tmp_path, "plan.json", VALID)), "--json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)  # stdout is exactly one JSON document
    assert {"run_id", "status", "value", "tasks", "usage"} <= set(payload)
    assert payload["status"] == "succeeded"
    assert payload["value"] == "The combined population is 116120000."
    assert [(t["id"], t["status"], t["attempts"]) for t in payload["tasks"]] == [
        ("a", "succeeded", 1),
        ("b", "succeeded", 1),
        ("total", "succeeded", 1),
    ]
    assert set(payload["usage"]) >= {"input_tokens", "output_tokens", "cost_usd", "latency_s"}
    assert payload["gaps"] == []


def test_exec_valid_plan_human_output(cli: Invoke, tmp_path: Path) -> None:
    result = cli("exec", str(write(tmp_path, "plan.json", VALID)))
    assert result.exit_code == 0, result.stderr
    assert "The combined population is 116120000." in result.stdout
    assert "succeeded" in result.stdout


def test_exec_failed_run_exits_1_with_json(cli: Invoke, tmp_path: Path) -> None:
    plan = {"tasks": [{"id": "x", "tool": "calc", "args": {"expression": "1/0"}}]}
    result = cli("exec", str(write(tmp_path, "plan.json", plan)), "--json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["status"] == "failed"
    assert "division by zero" in payload["gaps"][0]
    # A failure is visible in `veritask show` too.
    shown = cli("show", payload["run_id"])
    assert shown.exit_code == 0
    assert "division by zero" in " ".join(shown.stdout.split())


def test_exec_invalid_plan_lists_every_problem(cli: Invoke, tmp_path: Path, store: str) -> None:
    plan = {
        "tasks": [
            {"id": "a", "tool": "population", "args": {"country": "France"}},
            {"id": "b", "tool": "calc", "args": {"expression": "$ghost + 1"}},
            {"id": "c", "tool": "calc", "args": {"expr": "1"}},
        ]
    }
    result = cli("exec", str(write(tmp_path, "plan.json", plan)), "--json")
    assert_clean_usage_error(result, "4 problem(s)", "task 'a'", "task 'b'", "task 'c'")
    assert "'population' is not registered" in result.stderr
    assert "'ghost'" in result.stderr
    assert "'expr'" in result.stderr and "needs argument 'expression'" in result.stderr
    assert result.stdout == ""
    assert open_store(store).runs() == []  # nothing ran, nothing was logged


def test_exec_structurally_malformed_plan(cli: Invoke, tmp_path: Path) -> None:
    result = cli("exec", str(write(tmp_path, "plan.json", {"goal": "no tasks"})))
    assert_clean_usage_error(result, "tasks")


def test_exec_non_json_file(cli: Invoke, tmp_path: Path) -> None:
    result = cli("exec", str(write(tmp_path, "plan.json", "{not json")))
    assert_clean_usage_error(result, "not valid JSON", "line 1")


def test_exec_missing_file(cli: Invoke, tmp_path: Path) -> None:
    result = cli("exec", str(tmp_path / "nope.json"))
    assert_clean_usage_error(result, "nope.json", "does not exist")


def test_exec_plan_path_that_is_a_directory(cli: Invoke, tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    assert_clean_usage_error(cli("exec", str(tmp_path / "plans")), "plans")


def test_exec_plan_file_that_is_not_text(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b"\xff\xfe{\x00")
    assert_clean_usage_error(cli("exec", str(path)), "plan.json")


def test_exec_existing_run_id_is_refused(cli: Invoke, tmp_path: Path) -> None:
    plan = str(write(tmp_path, "plan.json", VALID))
    assert cli("exec", plan, "--json", "--run-id", "mine").exit_code == 0
    result = cli("exec", plan, "--json", "--run-id", "mine")
    assert_clean_usage_error(result, "'mine' already exists")


def test_exec_options_backend_and_budget(cli: Invoke, tmp_path: Path, store: str) -> None:
    plan = str(write(tmp_path, "plan.json", VALID))
    isolated = run_json(cli, "exec", plan, "--backend", "process")
    assert isolated["status"] == "succeeded"
    assert isolated["value"] == "The combined population is 116120000."

    limited = cli("exec", plan, "--json", "--max-tasks", "1", "--concurrency", "1")
    assert limited.exit_code == 1
    payload = json.loads(limited.stdout)
    assert payload["status"] == "failed"
    assert any("budget for tasks exceeded" in g for g in payload["gaps"])


def test_exec_unknown_backend(cli: Invoke, tmp_path: Path, store: str) -> None:
    result = cli("exec", str(write(tmp_path, "plan.json", VALID)), "--backend", "celeryish")
    assert_clean_usage_error(result, "unknown backend 'celeryish'")
    assert open_store(store).runs() == []


# -- runs / show / resume ---------------------------------------------------------------


def test_runs_lists_runs(cli: Invoke, tmp_path: Path) -> None:
    empty = cli("runs")
    assert empty.exit_code == 0 and "no runs yet" in empty.stdout
    plan = str(write(tmp_path, "plan.json", VALID))
    run_id = run_json(cli, "exec", plan, "--run-id", "first-run")["run_id"]
    assert run_id == "first-run"

    table = cli("runs")
    assert table.exit_code == 0
    assert run_id in table.stdout and "succeeded" in table.stdout

    listed = cli("runs", "--json")
    assert listed.exit_code == 0
    [row] = json.loads(listed.stdout)
    assert (row["run_id"], row["status"], row["tasks"]) == (run_id, "succeeded", 3)


def test_show_a_run(cli: Invoke, tmp_path: Path, store: str) -> None:
    run_id = run_json(cli, "exec", str(write(tmp_path, "plan.json", VALID)))["run_id"]

    shown = cli("show", run_id)
    assert shown.exit_code == 0, shown.stderr
    assert "116120000" in shown.stdout
    for tid in ("a", "b", "total"):
        assert tid in shown.stdout

    with_events = cli("show", run_id, "--events")
    assert with_events.exit_code == 0
    for etype in ("RunStarted", "PlanAccepted", "TaskStarted", "TaskSucceeded", "RunFinished"):
        assert etype in with_events.stdout
    assert "RunStarted" not in shown.stdout

    as_json = json.loads(cli("show", run_id, "--events", "--json").stdout)
    assert as_json["run_id"] == run_id and as_json["status"] == "succeeded"
    assert len(as_json["events"]) == len(open_store(store).events(run_id))
    assert [e["seq"] for e in as_json["events"]] == list(range(1, len(as_json["events"]) + 1))


def test_show_unknown_run(cli: Invoke) -> None:
    assert_clean_usage_error(cli("show", "nope"), "no run 'nope'", "veritask runs")


def test_resume_of_a_finished_run_reruns_nothing(cli: Invoke, tmp_path: Path, store: str) -> None:
    first = run_json(cli, "exec", str(write(tmp_path, "plan.json", VALID)))
    before = open_store(store).events(first["run_id"])

    result = cli("resume", first["run_id"], "--json")
    assert result.exit_code == 0, result.stderr
    again = json.loads(result.stdout)
    assert (again["run_id"], again["status"], again["value"]) == (
        first["run_id"],
        "succeeded",
        first["value"],
    )
    assert open_store(store).events(first["run_id"]) == before


def test_resume_unknown_run(cli: Invoke) -> None:
    assert_clean_usage_error(cli("resume", "nope", "--json"), "no run 'nope'")


# -- --import -------------------------------------------------------------------------


def _tool_module(tmp_path: Path) -> tuple[str, str]:
    """A uniquely named module defining a uniquely named tool (the default registry is global)."""
    suffix = uuid.uuid4().hex[:8]
    module, tool_name = f"cli_tools_{suffix}", f"triple_{suffix}"
    write(
        tmp_path,
        f"{module}.py",
        "from veritask import tool\n\n\n"
        f"@tool(name={tool_name!r})\n"
        "def triple(n: int) -> int:\n"
        "    return 3 * n\n",
    )
    return module, tool_name


def test_import_a_module_with_tools(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, tool_name = _tool_module(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    plan = {"tasks": [{"id": "t", "tool": tool_name, "args": {"n": 14}}]}
    path = str(write(tmp_path, "plan.json", plan))

    without = cli("exec", path, "--json")
    assert_clean_usage_error(without, f"'{tool_name}' is not registered")

    result = cli("exec", path, "--json", "--import", module)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["value"] == 42


def test_import_of_a_missing_module(cli: Invoke, tmp_path: Path) -> None:
    path = str(write(tmp_path, "plan.json", VALID))
    result = cli("exec", path, "--import", "no_such_module_xyz")
    assert_clean_usage_error(result, "cannot import tool module 'no_such_module_xyz'")


def test_import_of_a_module_that_fails_is_a_usage_error(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"broken_{uuid.uuid4().hex[:8]}"
    write(tmp_path, f"{name}.py", "raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = cli("exec", str(write(tmp_path, "plan.json", VALID)), "--import", name)
    assert result.exit_code == 2
    text = " ".join(result.stderr.split())
    assert name in text and "boom at import" in text


# -- the real console script -------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("VERITASK_", "PYTHONPATH"))}


def test_console_script_exec(tmp_path: Path, store: str) -> None:
    done = subprocess.run(
        [str(VERITASK), "exec", str(EXAMPLE), "--json", "--store", store],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["status"] == "succeeded"
    assert payload["value"] == "The combined population is 116120000."
    assert not (tmp_path / ".veritask").exists()  # the store given was used


def test_console_script_imports_a_module_from_the_current_directory(
    tmp_path: Path, store: str
) -> None:
    module, tool_name = _tool_module(tmp_path)
    plan = write(
        tmp_path, "plan.json", {"tasks": [{"id": "t", "tool": tool_name, "args": {"n": 5}}]}
    )
    done = subprocess.run(
        [str(VERITASK), "exec", str(plan), "--json", "--store", store, "--import", module],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["value"] == 15


def test_bad_budgets_are_usage_errors_naming_the_option(cli: Invoke, tmp_path: Path) -> None:
    path = str(write(tmp_path, "plan.json", VALID))
    assert_clean_usage_error(cli("exec", path, "--max-seconds", "-1"), "--max-seconds")
    assert_clean_usage_error(cli("exec", path, "--max-tasks", "0"), "--max-tasks")


def test_a_plan_nested_hundreds_deep_is_a_usage_error(cli: Invoke, tmp_path: Path) -> None:
    value: Any = "x"
    for _ in range(300):
        value = {"a": value}
    plan = {"tasks": [{"id": "t", "tool": "calc", "args": {"expression": value}}]}
    result = cli("exec", str(write(tmp_path, "deep.json", plan)))
    assert_clean_usage_error(result, "nests more than 64 levels")


def test_version(cli: Invoke) -> None:
    result = cli("--version", use_store=False)
    assert result.exit_code == 0 and result.stdout.startswith("veritask ")


def test_a_mistyped_tool_gets_a_did_you_mean_and_an_import_hint(
    cli: Invoke, tmp_path: Path
) -> None:
    plan = {"tasks": [{"id": "a", "tool": "clac", "args": {"expression": "1"}}]}
    result = cli("exec", str(write(tmp_path, "plan.json", plan)))
    assert_clean_usage_error(result, "did you mean 'calc'?", "--import")


def test_bracketed_text_in_an_error_is_printed_not_swallowed(cli: Invoke, tmp_path: Path) -> None:
    plan = {"tasks": [{"id": "a", "tool": "[models.x] base_url", "args": {}}]}
    result = cli("exec", str(write(tmp_path, "plan.json", plan)))
    assert result.exit_code == 2 and "[models.x] base_url" in result.stderr


def test_runs_on_a_store_whose_directory_is_missing_is_exit_3(cli: Invoke) -> None:
    result = cli("runs", "--store", "sqlite:////missing/dir/runs.db", use_store=False)
    assert result.exit_code == 3 and "does not exist" in result.stderr


def test_the_resume_hint_carries_store_and_imports() -> None:
    from veritask.cli import _resume_hint

    hint = _resume_hint("r1", "sqlite:///my runs.db", ["mytools"])
    assert hint == "veritask resume r1 --store 'sqlite:///my runs.db' --import mytools"
    with_kb = _resume_hint("r1", None, None, ["handbook"])
    assert with_kb == "veritask resume r1 --kb handbook"  # kb_answer steps need their KB


def test_json_output_is_strict_json() -> None:
    from veritask.cli import strict_json

    line = strict_json({"value": float("nan"), "nested": [float("inf"), 1.5]})
    assert json.loads(line) == {"value": None, "nested": [None, 1.5]}
    assert "NaN" not in line and "Infinity" not in line


def test_bracketed_text_in_progress_lines_and_tables_is_shown(cli: Invoke, tmp_path: Path) -> None:
    plan = {"tasks": [{"id": "a", "tool": "calc", "args": {"expression": "[models.x] base_url"}}]}
    ran = cli("exec", str(write(tmp_path, "plan.json", plan)))
    assert ran.exit_code == 1
    assert "cannot evaluate '[models.x] base_url'" in ran.stderr  # the progress line
    assert "cannot evaluate '[models.x] base_url'" in " ".join(ran.stdout.split())  # the gap
    run_id = ran.stdout.split()[1].rstrip(":")
    shown = cli("show", run_id)
    assert '"[models.x] base_url"' in shown.stdout  # the call, in the task table


@pytest.mark.parametrize(
    "args",
    [("show", "r1"), ("resume", "r1"), ("settle", "r1", "t", "--not-done")],
    ids=["show", "resume", "settle"],
)
def test_every_command_on_a_store_whose_directory_is_missing_is_exit_3(
    cli: Invoke, tmp_path: Path, args: tuple[str, ...]
) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    result = cli(*args, "--store", f"sqlite:///{missing}/runs.db", use_store=False)
    assert result.exit_code == 3, result.output
    assert "does not exist" in result.stderr and "Traceback" not in result.output
    assert not missing.exists()  # and nothing was created behind the typo
