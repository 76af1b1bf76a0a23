from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from veritask.errors import StoreError, UserError
from veritask.memory.episodic import Episode, PlanMemory, episode_key, fts_query
from veritask.types import Plan, Task


def combined(a: str, b: str, what: str = "population") -> Plan:
    return Plan(
        tasks=[
            Task(id="t1", tool="country_facts", args={"country": a}),
            Task(id="t2", tool="country_facts", args={"country": b}),
            Task(id="t3", tool="calc", args={"expression": f"$t1.{what} + $t2.{what}"}),
        ],
        answer_template="{$t3}",
    )


def distance(a: str, b: str) -> Plan:
    return Plan(tasks=[Task(id="t1", tool="distance_km", args={"place_a": a, "place_b": b})])


def single(a: str) -> Plan:
    return Plan(tasks=[Task(id="t1", tool="country_facts", args={"country": a})])


@pytest.fixture
def memory(tmp_path: Path) -> PlanMemory:
    return PlanMemory(tmp_path / "memory.db")


@pytest.fixture
def stocked(memory: PlanMemory) -> PlanMemory:
    memory.remember(
        "What is the distance in km between Paris and Berlin?",
        distance("Paris", "Berlin"),
        confidence=0.9,
    )
    memory.remember(
        "What is the combined population of France and Spain?",
        combined("France", "Spain"),
        confidence=0.9,
    )
    memory.remember(
        "What is the combined area of Chile and Peru?",
        combined("Chile", "Peru", "area_km2"),
        confidence=0.9,
    )
    memory.remember("What is the population density of Japan?", single("Japan"), confidence=0.8)
    memory.remember("What is the capital of Kenya?", single("Kenya"), confidence=0.8)
    return memory


def test_a_combined_population_question_finds_the_combined_population_plan(
    stocked: PlanMemory,
) -> None:
    found = stocked.similar("What is the combined population of Germany and Italy?", k=3)
    assert found[0].abstract_question == "What is the combined population of X and Y?"
    assert found[0].abstract_plan.tasks[0].args == {"country": "X"}
    assert found[0].plan == combined("France", "Spain")
    assert "distance" not in " ".join(e.abstract_question for e in found)
    assert [e.score for e in found] == sorted((e.score for e in found), reverse=True)
    assert all(e.score > 0 for e in found)


def test_a_distance_question_finds_the_distance_plan(stocked: PlanMemory) -> None:
    found = stocked.similar("How many km between Sri Lanka and Chad?", k=1)
    assert [e.tools for e in found] == [["distance_km"]]


def test_entity_names_do_not_drive_the_match(stocked: PlanMemory) -> None:
    # "France" and "Spain" were abstracted away, so they match nothing.
    assert stocked.similar("France Spain Paris Berlin") == []


def test_similar_returns_at_most_k_and_nothing_for_no_match(stocked: PlanMemory) -> None:
    assert len(stocked.similar("combined population area density capital distance", k=2)) == 2
    assert stocked.similar("combined population", k=0) == []
    assert stocked.similar("quantum chromodynamics") == []
    assert stocked.similar("what is the") == []


def test_similar_on_an_empty_memory(memory: PlanMemory) -> None:
    assert memory.similar("What is the combined population of X and Y?") == []


@pytest.mark.parametrize(
    "text",
    [
        "?",
        '"',
        '"unbalanced quote population',
        "-population",
        "population*",
        "*",
        "capital:Kenya",
        "population AND",
        "AND OR NOT",
        "NEAR(combined population)",
        "population^",
        "(combined",
        "it's the combined population's ___ of {X} & [Y]!",
        "combined\x00population",
        "🌍 combined population",
        "",
        "   ",
    ],
)
def test_fts_syntax_in_questions_never_raises(stocked: PlanMemory, text: str) -> None:
    found = stocked.similar(text)
    assert all(isinstance(e, Episode) for e in found)
    assert stocked.remember(text + " of Chad", single("Chad"), confidence=0.9) in (True, False)


def test_fts_query_quotes_every_term() -> None:
    assert fts_query('What is "the" combined-population AND x* 3?') == (
        '"combined" OR "population" OR "3"'
    )
    assert fts_query("what is the") == ""
    assert fts_query("X and Y") == ""  # placeholders match nothing by themselves


def test_the_same_shape_is_stored_once_and_counts_uses(memory: PlanMemory) -> None:
    assert memory.remember(
        "What is the combined population of France and Spain?",
        combined("France", "Spain"),
        confidence=0.8,
        run_id="r1",
    )
    assert not memory.remember(
        "what is the combined population of Germany and Italy",
        combined("Germany", "Italy"),
        confidence=0.95,
        run_id="r2",
    )
    assert len(memory) == 1
    (episode,) = memory.list()
    assert episode.uses == 2
    assert episode.confidence == 0.95
    assert episode.run_id == "r2"
    assert episode.plan == combined("France", "Spain")  # the first example stays


def test_another_plan_shape_for_the_same_question_is_a_new_episode(memory: PlanMemory) -> None:
    q = "What is the combined population of France and Spain?"
    assert memory.remember(q, combined("France", "Spain"), confidence=0.9)
    other = Plan(
        tasks=[
            Task(id="t1", tool="country_facts", args={"country": "France"}),
            Task(id="t2", tool="country_facts", args={"country": "Spain"}),
            Task(id="t3", tool="calc", args={"expression": "$t2.population + $t1.population"}),
        ]
    )
    assert memory.remember(q, other, confidence=0.9)
    assert len(memory) == 2


def test_task_ids_do_not_change_the_shape() -> None:
    renamed = Plan(
        tasks=[
            Task(id="a", tool="country_facts", args={"country": "X"}),
            Task(id="b", tool="country_facts", args={"country": "Y"}),
            Task(id="c", tool="calc", args={"expression": "$a.population + $b.population"}),
        ],
        answer_template="{$c}",
    )
    q = "combined population of X and Y?"
    assert episode_key(q, renamed) == episode_key(q, combined("X", "Y"))


def test_list_clear_and_len(stocked: PlanMemory) -> None:
    assert len(stocked) == 5
    newest = stocked.list(limit=2)
    assert [e.abstract_question for e in newest] == [
        "What is the capital of X?",
        "What is the population density of X?",
    ]
    assert all(e.score == 0.0 and e.uses == 1 for e in newest)
    assert stocked.clear() == 5
    assert len(stocked) == 0
    assert stocked.list() == []
    assert stocked.similar("combined population") == []
    assert stocked.clear() == 0


def test_episodes_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "memory.db"
    with PlanMemory(path) as first:
        first.remember("Capital of Kenya?", single("Kenya"), confidence=0.9, run_id="r1")
    with PlanMemory(path) as second:
        (episode,) = second.similar("capital")
    assert episode.question == "Capital of Kenya?"
    assert episode.run_id == "r1"
    assert episode.created_at.tzinfo is not None


def test_confidence_must_be_a_probability(memory: PlanMemory) -> None:
    with pytest.raises(UserError, match="between 0 and 1"):
        memory.remember("Capital of Kenya?", single("Kenya"), confidence=1.5)


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    bad = tmp_path / "memory.db"
    bad.write_text("not sqlite " * 200)
    with pytest.raises(StoreError, match="cannot open plan memory"):
        PlanMemory(bad)


def test_many_matches_still_return_k(memory: PlanMemory) -> None:
    for i in range(200):
        memory.remember(f"combined population number n{i} of Chad", single("Chad"), confidence=0.9)
    assert len(memory.similar("combined population", k=3)) == 3


def _writer(path: str, worker: int) -> None:
    memory = PlanMemory(path)
    for i in range(15):
        memory.remember(
            f"worker {worker} question q{i} about the capital of Kenya",
            single("Kenya"),
            confidence=0.9,
        )
        memory.remember(
            "What is the combined population of France and Spain?",
            combined("France", "Spain"),
            confidence=0.9,
        )
    memory.close()


@pytest.mark.parametrize("precreate", [True, False])
def test_several_processes_can_remember_at_once(tmp_path: Path, precreate: bool) -> None:
    path = str(tmp_path / "memory.db")
    if precreate:
        PlanMemory(path).close()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    memory = PlanMemory(path)
    assert len(memory) == 4 * 15 + 1
    (shared,) = memory.similar("combined population", k=1)
    assert shared.uses == 4 * 15
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
