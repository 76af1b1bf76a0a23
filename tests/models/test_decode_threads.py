"""How many threads decode a token: one for a small model, every core for a big one."""

from __future__ import annotations

from pathlib import Path

from veritask.models.local import ONE_DECODE_THREAD_BELOW, decode_threads


def sized(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    with path.open("wb") as f:
        f.truncate(size)  # sparse: the size is what counts, no disk is used
    return path


def test_a_small_model_decodes_on_one_thread(tmp_path: Path) -> None:
    assert decode_threads(sized(tmp_path, "small.gguf", 100 << 20), 8) == 1


def test_a_big_model_decodes_on_every_thread_it_is_given(tmp_path: Path) -> None:
    big = sized(tmp_path, "big.gguf", ONE_DECODE_THREAD_BELOW)
    assert decode_threads(big, 8) == 8
