"""Inputs built to exhaust time or memory end bounded, with one clear error each:
large plans run, plans nested deep or carrying megabytes are refused before
anything is stored, and `calc` expressions made to blow up fail as InvalidInput.
`benchmarks/reliability.py` runs these at full size (10,000 tasks, 50 MB, ...)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.processes import log_problems
from helpers.reliability import adversarial_expression
from veritask import Orchestrator, Plan
from veritask.cli import app
from veritask.errors import PlanError, ToolError
from veritask.store import open_store
from veritask.tools.builtin.calc import evaluate


def calc_plan(n: int) -> dict[str, object]:
    return {
        "goal": f"{n} tasks",
        "tasks": [
            {"id": f"t{i}", "tool": "calc", "args": {"expression": f"{i} + 1"}} for i in range(n)
        ],
    }


def test_a_plan_of_thousands_of_tasks_runs_to_one_consistent_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    result = Orchestrator(store=url, memory=False).execute(calc_plan(2000), run_id="big")
    assert result.status.value == "succeeded" and len(result.outcomes) == 2000
    store = open_store(url)
    log = store.events("big")
    store.close()
    assert log_problems(log, [f"t{i}" for i in range(2000)]) == []


def exec_cli(tmp_path: Path, plan_file: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["exec", str(plan_file), "--store", f"sqlite:///{tmp_path}/runs.db"]
    )
    return result.exit_code, result.stderr


def test_a_plan_nested_100000_deep_is_a_usage_error(tmp_path: Path) -> None:
    deep = '{"x":' * 100_000 + "1" + "}" * 100_000
    plan = tmp_path / "deep.json"
    plan.write_text('{"tasks":[{"id":"a","tool":"calc","args":{"expression":' + deep + "}}]}")
    code, err = exec_cli(tmp_path, plan)
    assert code == 2 and "nests too deeply" in err and "64 levels" in err
    assert not (tmp_path / "runs.db").exists()  # refused before any run was stored


def test_a_50_mb_plan_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    plan = tmp_path / "big.json"
    with plan.open("w") as f:
        f.write('{"tasks":[{"id":"a","tool":"calc","args":{"expression":"')
        f.write("1" * 50 * 2**20)
        f.write('"}}]}')
    started = time.perf_counter()
    code, err = exec_cli(tmp_path, plan)
    assert code == 2 and "is 50.0 MB; a plan may be at most 16 MB" in " ".join(err.split())
    assert time.perf_counter() - started < 5
    assert not (tmp_path / "runs.db").exists()


def test_a_megabytes_long_argument_is_refused_with_where_it_is() -> None:
    plan = calc_plan(2)
    plan["tasks"][1]["args"]["expression"] = "1" * (2 * 2**20)  # type: ignore[index]
    orch = Orchestrator(store="memory://", memory=False)
    with pytest.raises(PlanError, match=r"tasks\.1\.args\.expression is a string of 2,097,152"):
        orch.execute(plan)
    with pytest.raises(PlanError, match="at most 1,048,576"):
        orch.execute(Plan.model_validate(plan))
    assert orch.store.runs() == []


def test_calc_expressions_built_to_exhaust_cpu_or_memory_fail_fast() -> None:
    rng = random.Random(14)
    slowest = 0.0
    for _ in range(400):
        expression = adversarial_expression(rng)
        started = time.perf_counter()
        try:
            value = evaluate(expression)
        except ToolError as exc:
            assert exc.kind == "InvalidInput", exc
            assert len(str(exc)) <= 800  # the error never echoes a huge value
        else:
            assert isinstance(value, int | float) and abs(value) <= 10**308
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.5, f"an expression took {slowest:.2f}s"


def test_a_plan_of_hostile_calc_tasks_ends_with_one_error_per_task(tmp_path: Path) -> None:
    rng = random.Random(6)
    tasks = [
        {"id": f"t{i}", "tool": "calc", "args": {"expression": adversarial_expression(rng)}}
        for i in range(60)
    ]
    plan = tmp_path / "hostile.json"
    plan.write_text(json.dumps({"goal": "hostile", "tasks": tasks}))
    result = CliRunner().invoke(
        app, ["exec", str(plan), "--json", "--store", f"sqlite:///{tmp_path}/runs.db"]
    )
    assert result.exit_code in (0, 1), result.output
    out = json.loads(result.stdout)
    assert len(out["tasks"]) == 60
    for task in out["tasks"]:
        assert task["status"] in ("succeeded", "failed"), task
        assert task["attempts"] == 1  # InvalidInput is never retried
        if task["status"] == "failed":
            assert task["error"]["type"] == "InvalidInput" and task["error"]["message"]


def test_a_plan_object_nested_thousands_deep_is_refused_not_a_recursion_error() -> None:
    deep: object = 1
    for _ in range(5000):
        deep = {"x": deep}
    plan = Plan.model_validate({"tasks": [{"id": "a", "tool": "calc", "args": {"e": deep}}]})
    orch = Orchestrator(store="memory://", memory=False)
    with pytest.raises(PlanError, match="nests more than 64 levels"):
        orch.execute(plan)
    assert orch.store.runs() == []
