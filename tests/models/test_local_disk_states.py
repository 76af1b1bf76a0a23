"""System-message states kept on disk for the next process (`_llama_disk`).

What a user relies on: a second process with the same model and catalogue
does not read the catalogue again and writes exactly what the first wrote;
another catalogue misses; a damaged file is dropped and the prompt read as
before; at most `keep` files stay; a directory that cannot be written only
means nothing is kept. Two engines in one process stand for two processes
(each has its own context and in-memory states). Invented domain: an
apiary's plan tools. Nothing here is about time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from veritask.models._llama_disk import DiskStates
from veritask.models._llama_twin import SavedState
from veritask.models.local import _Engine, smollm2_path

pytest.importorskip("llama_cpp")

CATALOGUE = "You write plans for questions about our apiary. Tools: " + " ".join(
    f"hive_{i}(name) returns the colony, frames and honey_kg of hive group {i};" for i in range(8)
)
QUESTION = "How much honey did the Clover hive give this season?"


def messages(catalogue: str = CATALOGUE) -> list[dict[str, str]]:
    return [{"role": "system", "content": catalogue}, {"role": "user", "content": QUESTION}]


@pytest.fixture
def engines() -> Iterator[list[_Engine]]:
    made: list[_Engine] = []
    yield made
    for engine in made:
        engine.llama.close()


def new_engine(engines: list[_Engine], directory: Path) -> _Engine:
    engine = _Engine(smollm2_path(), 2048, 2, state_dir=str(directory))
    engines.append(engine)
    return engine


def answer(engine: _Engine, msgs: list[dict[str, str]]) -> str:
    tokens = engine.prompt_tokens(msgs)
    sample = engine.sample(
        tokens,
        grammar=None,
        max_tokens=24,
        temperature=0.0,
        logprobs=False,
        seed=1,
        cancel=threading.Event(),
        prefix=engine.fixed_prefixes(msgs, tokens),
    )
    return sample.choice.text


@pytest.mark.integration
def test_a_later_process_restores_the_catalogue_and_writes_the_same(
    engines: list[_Engine], tmp_path: Path
) -> None:
    first = new_engine(engines, tmp_path)
    expected = answer(first, messages())
    assert len(list(tmp_path.glob("*.kv"))) == 1
    read_first = first.evaluated

    later = new_engine(engines, tmp_path)
    assert answer(later, messages()) == expected
    disk = later.prefix_states.disk
    assert disk is not None and disk.loaded == 1
    assert later.evaluated < read_first / 3  # the question's tokens, not the catalogue's

    other = new_engine(engines, tmp_path)  # another catalogue: nothing to restore
    answer(other, messages(CATALOGUE.replace("apiary", "bee farm")))
    assert other.prefix_states.disk is not None and other.prefix_states.disk.loaded == 0
    assert len(list(tmp_path.glob("*.kv"))) == 2


@pytest.mark.integration
def test_a_damaged_state_is_dropped_and_the_prompt_read_again(
    engines: list[_Engine], tmp_path: Path
) -> None:
    first = new_engine(engines, tmp_path)
    expected = answer(first, messages())
    (kept,) = tmp_path.glob("*.kv")
    whole = kept.stat().st_size
    kept.write_bytes(kept.read_bytes()[: whole // 2])  # the header still says it fits

    later = new_engine(engines, tmp_path)
    assert answer(later, messages()) == expected
    assert later.prefix_states.disk is not None and later.prefix_states.disk.loaded == 0
    assert later.evaluated == first.evaluated  # the whole prompt, read again
    # Refused by llama.cpp, the half file went; reading the prompt wrote a whole one.
    assert [p.stat().st_size for p in tmp_path.glob("*.kv")] == [whole]


def states(
    tmp_path: Path, keep: int = 6, n_ctx: int = 2048, directory: Path | None = None
) -> DiskStates:
    """States in `tmp_path`/states (or `directory`) for a stand-in model file (the key
    reads its path, size and modification time, not its contents)."""
    model = tmp_path / "model.gguf"
    if not model.exists():
        model.write_bytes(b"weights")
    return DiskStates(directory or tmp_path / "states", model, n_ctx, keep=keep)


def test_a_state_is_found_only_under_its_own_tokens(tmp_path: Path) -> None:
    disk = states(tmp_path)
    disk.put((1, 2, 3), SavedState(b"kv-cells", 3))
    assert disk.get((1, 2, 3)) == SavedState(b"kv-cells", 3)
    assert disk.get((1, 2, 4)) is None
    # Another context size or model file is another key.
    assert states(tmp_path, n_ctx=4096).get((1, 2, 3)) is None
    (tmp_path / "model.gguf").write_bytes(b"other weights")
    assert states(tmp_path).get((1, 2, 3)) is None


def test_a_file_too_short_or_of_another_length_is_deleted(tmp_path: Path) -> None:
    disk = states(tmp_path)
    disk.put((5, 6), SavedState(b"data", 2))
    path = disk.path((5, 6))
    path.write_bytes(b"VTKV")
    assert disk.get((5, 6)) is None
    assert not path.exists()
    disk.put((5, 6), SavedState(b"data", 3))  # says 3 tokens for a 2-token prefix
    assert disk.get((5, 6)) is None
    assert not path.exists()


def test_at_most_keep_files_stay_and_the_least_recently_used_go(tmp_path: Path) -> None:
    disk = states(tmp_path, keep=2)
    disk.directory.mkdir()
    mine = disk.directory / "notes.kv"  # someone else's file in the same directory
    mine.write_text("keep me")
    disk.put((1,), SavedState(b"a", 1))
    disk.put((2,), SavedState(b"b", 1))
    old = disk.path((1,)).stat().st_mtime_ns
    os.utime(disk.path((2,)), ns=(old - 10**9, old - 10**9))  # (2,) used longer ago
    disk.put((3,), SavedState(b"c", 1))
    assert disk.get((1,)) is not None and disk.get((3,)) is not None
    assert disk.get((2,)) is None
    assert mine.read_text() == "keep me"


def test_a_half_written_file_a_dead_process_left_is_removed(tmp_path: Path) -> None:
    disk = states(tmp_path)
    disk.directory.mkdir()
    left = disk.directory / "veritask-abc.tmp"
    left.write_bytes(b"half")
    recent = disk.directory / "veritask-def.tmp"  # another process may be writing it now
    recent.write_bytes(b"half")
    old = left.stat().st_mtime - 2 * 3600
    os.utime(left, (old, old))
    disk.put((1,), SavedState(b"a", 1))
    assert not left.exists() and recent.exists()


def test_a_directory_that_cannot_be_written_keeps_nothing_and_fails_nothing(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    disk = states(tmp_path, directory=blocker / "states")
    disk.put((1, 2), SavedState(b"kv", 2))  # no exception
    assert disk.get((1, 2)) is None
