"""benchmarks/escalation.py: machine failures are run again, and a killed run resumes."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from veritask import Orchestrator
from veritask.errors import ModelError
from veritask.models import ScriptedModel
from veritask.models.scripted import ScriptedCall, constrained

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "escalation.py"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("escalation_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def factory(
    bench: ModuleType, *models: ScriptedModel
) -> tuple[Callable[[], Orchestrator], list[int]]:
    """Orchestrators on `models` in turn (the last one for any further call); counts calls."""
    made: list[int] = []

    def make() -> Orchestrator:
        model = models[min(len(made), len(models) - 1)]
        made.append(1)
        return Orchestrator("memory://", model=model, memory=False, budget=bench.BUDGET)

    return make, made


def sure(answer: str) -> ScriptedModel:
    """A model that gives `answer` at probability 0.95 in every sample."""
    return ScriptedModel(default=constrained(answer, 0.95))


async def test_a_row_that_failed_for_a_machine_reason_is_run_again(
    bench: ModuleType, tmp_path: Path
) -> None:
    item = next(i for i in bench.suite() if i.id == "easy-0-0")  # "The parcel weighs 12 kg."
    broken = ScriptedModel(default=ModelError("the model did not load", provider="local"))
    make, made = factory(bench, broken, sure("12 kg."))
    rows = await bench.run_all([item], save_to=tmp_path / "out.json", orchestrator=make)
    assert [(r.condition, r.correct) for r in rows] == [
        ("never", True),
        ("always", True),
        ("per-task", True),
    ]
    assert len(made) == 2 and len(broken.calls) >= 1  # the failed row ran on a fresh one
    assert all(r.tokens > 0 for r in rows)


async def test_a_row_that_never_stops_failing_is_left_out_not_kept_as_wrong(
    bench: ModuleType, tmp_path: Path
) -> None:
    item = next(i for i in bench.suite() if i.id == "easy-0-0")
    make, made = factory(bench, ScriptedModel(default=ModelError("timed out", provider="local")))
    rows = await bench.run_all([item], save_to=tmp_path / "out.json", orchestrator=make)
    assert rows == [] and len(made) == 1 + 3 * bench.TRIES


async def test_rows_are_saved_one_by_one_and_a_rerun_resumes_after_them(
    bench: ModuleType, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    first, second = (next(i for i in bench.suite() if i.id == k) for k in ("easy-0-0", "easy-1-0"))
    seen: list[int] = []

    def answer(call: ScriptedCall) -> Any:
        # Whenever the model is asked, every row finished before is already on disk.
        seen.append(len(json.loads(out.read_text())["rows"]) if out.exists() else 0)
        return constrained("12 kg.", 0.95)

    make, _ = factory(bench, ScriptedModel(default=answer))
    await bench.run_all([first], save_to=out, orchestrator=make)
    assert sorted(set(seen)) == [0, 1, 2]  # rows 2 and 3 began with 1 and 2 rows saved
    assert len(json.loads(out.read_text())["rows"]) == 3

    later = ScriptedModel(default=constrained("9:45", 0.95))
    make, _ = factory(bench, later)
    rows = await bench.run_all([first, second], save_to=out, orchestrator=make)
    assert [r.item for r in rows] == ["easy-0-0"] * 3 + ["easy-1-0"] * 3
    assert all("9:45" in c.prompt for c in later.calls)  # the saved item was not run again
    saved = json.loads(out.read_text())
    assert len(saved["rows"]) == 6 and saved["summary"]["never"]["items"] == 2


def test_a_file_written_with_other_settings_is_not_resumed(
    bench: ModuleType, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    out.write_text(json.dumps({"threshold": 0.5, "budget": {}, "rows": []}))
    with pytest.raises(SystemExit, match="other settings"):
        bench.load_rows(out)


def test_an_amount_is_right_as_a_bare_number_but_not_as_its_distractor(
    bench: ModuleType,
) -> None:
    item = next(i for i in bench.suite() if i.id == "hard-3-1")  # 31 euros, then 240 euros
    assert bench.correct("240", item) and bench.correct("240 euros", item)
    assert not bench.correct("31", item) and not bench.correct("24", item)
    assert not bench.correct("31 euros, but after the discount it came to 240 euros", item)
