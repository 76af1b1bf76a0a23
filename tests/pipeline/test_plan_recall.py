"""Plans from memory: a question of a remembered shape is planned without the model.

The toolkit is the invented shop (`examples/shop.py`); the model is scripted,
so every model call is counted. The planner writes the first plan of each
shape; later questions of that shape with other products must be planned by
substitution (zero model calls), checked like a sampled plan, and a reused
plan that does not answer well must be demoted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from examples.shop import shop

from veritask import Orchestrator
from veritask.memory.episodic import PlanMemory
from veritask.memory.recall import fit
from veritask.models import ScriptedModel
from veritask.types import EventType, Plan, Task

SUM = (
    '1. product("{a}")\n2. product("{b}")\n3. calc("$1.price_usd + $2.price_usd")\n'
    "Answer: Together they cost {{$3}} US dollars.\n"
)
PRICE = '1. product("{a}")\nAnswer: The {a} costs {{$1.price_usd}} US dollars.\n'
HEAVIER = (
    '1. product("{a}")\n2. product("{b}")\n'
    '3. larger("$1.name", "$1.weight_kg", "$2.name", "$2.weight_kg")\n'
    "Answer: The {{$3}} is heavier.\n"
)


@pytest.fixture
def memory(tmp_path: Path) -> PlanMemory:
    return PlanMemory(tmp_path / "memory.db")


def orchestrator(tmp_path: Path, memory: PlanMemory, model: ScriptedModel) -> Orchestrator:
    return Orchestrator(store=tmp_path / "runs.db", model=model, memory=memory, toolkits=[shop])


def accepted(orch: Orchestrator, run_id: str) -> dict:  # type: ignore[type-arg]
    events = [e for e in orch.store.events(run_id) if e.type == EventType.PLAN_ACCEPTED]
    assert len(events) == 1
    return events[0].data


def test_a_question_of_a_remembered_shape_is_planned_with_zero_model_calls(
    tmp_path: Path, memory: PlanMemory
) -> None:
    model = ScriptedModel(default=SUM.format(a="Gadget", b="Gizmo"))
    orch = orchestrator(tmp_path, memory, model)
    first = orch.run("What do a Gadget and a Gizmo cost together?")
    assert first.answer is not None and first.answer.status.value == "answered"
    assert first.answer.value == pytest.approx(46.49)
    planner_calls = len(model.calls)
    assert planner_calls >= 1 and len(memory) == 1

    second = orch.run("What do a Lamp and a Kettle cost together?")
    assert len(model.calls) == planner_calls  # no model call at all
    answer = second.answer
    assert answer is not None and answer.status.value == "answered"
    assert answer.value == pytest.approx(64.85)
    assert answer.confidence.signals["plan_source"] == "memory"
    data = accepted(orch, second.run_id)
    assert data["source"] == "memory" and data["votes"] == 0
    assert sorted(data["entities"].values()) == ["Kettle", "Lamp"]
    assert data["episode"]["question"] == "What do a Gadget and a Gizmo cost together?"
    args = [t["args"] for t in data["plan"]["tasks"]]
    assert args[:2] == [{"name": "Lamp"}, {"name": "Kettle"}]
    assert data["plan"]["goal"] == "What do a Lamp and a Kettle cost together?"
    (episode,) = memory.list()
    assert episode.hits == 1 and episode.uses == 1 and not episode.demoted
    # Planner-made answers say so too.
    assert first.answer.confidence.signals["plan_source"] == "planner"


def test_a_question_of_another_shape_misses_and_goes_to_the_planner(
    tmp_path: Path, memory: PlanMemory
) -> None:
    model = ScriptedModel(default=SUM.format(a="Gadget", b="Gizmo"))
    orch = orchestrator(tmp_path, memory, model)
    orch.run("What do a Gadget and a Gizmo cost together?")
    before = len(model.calls)
    model.default = HEAVIER.format(a="Lamp", b="Kettle")
    result = orch.run("Which is heavier, a Lamp or a Kettle?")
    assert len(model.calls) > before
    assert "source" not in accepted(orch, result.run_id)
    assert result.answer is not None and result.answer.value == "Lamp"


def priced_gizmo_once(tmp_path: Path, memory: PlanMemory) -> tuple[Orchestrator, ScriptedModel]:
    """An orchestrator whose plan memory holds the planned, well-answered price question."""
    model = ScriptedModel(default=PRICE.format(a="Gizmo"))
    orch = orchestrator(tmp_path, memory, model)
    orch.run("What is the price of a Gizmo?")
    return orch, model


def test_a_reused_plan_whose_run_fails_is_demoted_and_not_reused(
    tmp_path: Path, memory: PlanMemory
) -> None:
    orch, model = priced_gizmo_once(tmp_path, memory)
    calls = len(model.calls)

    failed = orch.run("What is the price of a Flux Capacitor?")  # reused; no such product
    assert len(model.calls) == calls
    assert accepted(orch, failed.run_id)["source"] == "memory"
    assert failed.answer is not None and failed.answer.status.value != "answered"
    (episode,) = memory.list()
    assert episode.demoted and episode.failures == 1 and episode.hits == 0

    model.default = PRICE.format(a="Lamp")
    again = orch.run("What is the price of a Lamp?")
    assert len(model.calls) > calls  # demoted: the planner plans it
    assert "source" not in accepted(orch, again.run_id)
    # The planner wrote the same plan and it answered well: reusable again.
    assert not memory.list()[0].demoted
    calls = len(model.calls)
    orch.run("What is the price of a Kettle?")
    assert len(model.calls) == calls


def test_a_fitting_plan_that_fails_validation_falls_back_to_the_planner(
    tmp_path: Path, memory: PlanMemory
) -> None:
    # Remembered when the shop had a `price_of` tool, since removed.
    stale = Plan(
        goal="What is the price of a Gizmo?",
        tasks=[Task(id="t1", tool="price_of", args={"name": "Gizmo"})],
        answer_template="The Gizmo costs {$t1} US dollars.",
    )
    memory.remember("What is the price of a Gizmo?", stale, confidence=1.0)
    model = ScriptedModel(default=PRICE.format(a="Lamp"))
    orch = orchestrator(tmp_path, memory, model)
    result = orch.run("What is the price of a Lamp?")
    assert len(model.calls) >= 1
    data = accepted(orch, result.run_id)
    assert "source" not in data
    (refused,) = data["memory_refused"]
    assert any("price_of" in p for p in refused["problems"])
    assert result.answer is not None and result.answer.value == pytest.approx(34.9)


def test_a_fit_whose_entity_is_not_a_name_of_the_question_is_refused(
    tmp_path: Path, memory: PlanMemory
) -> None:
    orch, model = priced_gizmo_once(tmp_path, memory)
    calls = len(model.calls)
    # "Lamp and a Kettle" would fill the one placeholder: not one name, so not reused.
    result = orch.run("What is the price of a Lamp and a Kettle?")
    assert len(model.calls) > calls
    events = orch.store.events(result.run_id)
    assert not any(e.data.get("source") == "memory" for e in events)


def test_reuse_can_be_switched_off(tmp_path: Path, memory: PlanMemory) -> None:
    orch, model = priced_gizmo_once(tmp_path, memory)
    orch.settings = orch.settings.model_copy(update={"reuse_plans": False})
    calls = len(model.calls)
    model.default = PRICE.format(a="Lamp")
    orch.run("What is the price of a Lamp?")
    assert len(model.calls) > calls


# -- fitting a question to a remembered shape (no run) ---------------------------


def remembered(memory: PlanMemory, question: str, plan: Plan):  # type: ignore[no-untyped-def]
    memory.remember(question, plan, confidence=1.0)
    return memory.list()[0]


def product_plan(*names: str, expression: str | None = None) -> Plan:
    tasks = [Task(id=f"t{i}", tool="product", args={"name": n}) for i, n in enumerate(names, 1)]
    if expression is not None:
        tasks.append(Task(id=f"t{len(tasks) + 1}", tool="calc", args={"expression": expression}))
    return Plan(tasks=tasks, answer_template=f"{{$t{len(tasks)}}}")


def test_fit_substitutes_each_entity_and_keeps_references(memory: PlanMemory) -> None:
    episode = remembered(
        memory,
        "How much more does the Drill cost than the Hammer?",
        product_plan("Drill", "Hammer", expression="$t1.price_usd - $t2.price_usd"),
    )
    found = fit(episode, "How much more does the Solar Panel cost than the  Padlock")
    assert found is not None
    assert [t.args for t in found.plan.tasks] == [
        {"name": "Solar Panel"},
        {"name": "Padlock"},
        {"expression": "$t1.price_usd - $t2.price_usd"},
    ]
    assert fit(episode, "How much more does the Drill weigh than the Hammer?") is None
    assert fit(episode, "How much more does the Drill cost than the Drill?") is None


def test_fit_fills_numbers_the_plan_uses_and_reads_a_as_an(memory: PlanMemory) -> None:
    episode = remembered(
        memory,
        "What do 3 Widgets cost?",
        product_plan("Widgets", expression="3 * $t1.price_usd"),
    )
    found = fit(episode, "What do 12 Oak Shelves cost?")
    assert found is not None and found.numbers == {"3": "12"}
    assert found.plan.tasks[1].args == {"expression": "12 * $t1.price_usd"}
    lookup = remembered(memory, "What is the price of a Gizmo?", product_plan("Gizmo"))
    filled = fit(lookup, "What is the price of an Oak Shelf?")
    assert filled is not None and filled.plan.tasks[0].args == {"name": "Oak Shelf"}
