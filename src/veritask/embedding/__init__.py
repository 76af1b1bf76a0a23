"""Sentence embeddings on the CPU, with a lexical fallback.

Why: the planner chooses tools, fields and examples by meaning ("expensive" ~
"price", "inhabitants" ~ "population"), which word overlap cannot see; a small
local model can, without a network call or torch. When the model's package is
absent, fails to load, or ``VERITASK_EMBEDDER=none`` is set,
:func:`default_embedder` returns ``None`` and callers rank with
:func:`bm25_scores` instead.

This is a low layer: it imports nothing from veritask but ``veritask.errors``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from veritask.embedding.base import Embedder, Vectors
from veritask.embedding.lexical import bm25_scores
from veritask.embedding.minilm import MODEL_PACKAGE, MiniLMEmbedder
from veritask.errors import ModelError

log = logging.getLogger(__name__)

ENV_VAR = "VERITASK_EMBEDDER"
"""``none`` (or ``off``/``0``/``bm25``) disables the model; unset or ``minilm`` uses it."""

_DISABLED = frozenset({"none", "off", "0", "false", "bm25", "lexical"})
CACHE_SIZE = 4096
"""Texts whose vectors stay cached per process (384 floats each, ~6 MB in all)."""

_lock = threading.Lock()
_model: MiniLMEmbedder | None = None
_model_failed = False
_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_hits = 0
_misses = 0


def default_embedder() -> Embedder | None:
    """The process-wide embedder, loaded on first call, or ``None`` to mean "use BM25".

    ``None`` when ``VERITASK_EMBEDDER`` disables it, when the model's package
    is not installed, or when it failed to load (logged once, not retried, so
    a broken install costs one warning rather than one per question).
    """
    global _model, _model_failed
    choice = os.environ.get(ENV_VAR, "").strip().lower()
    if choice in _DISABLED:
        return None
    if choice not in ("", "minilm", "default"):
        log.warning("%s=%r is not a known embedder; using the default", ENV_VAR, choice)
    if _model is not None:
        return _model
    with _lock:
        if _model is None and not _model_failed:
            if importlib.util.find_spec(MODEL_PACKAGE) is None:
                _model_failed = True
                log.info("%s is not installed; falling back to BM25", MODEL_PACKAGE)
                return None
            candidate = MiniLMEmbedder()
            try:
                candidate.load()
            except Exception:
                _model_failed = True
                log.warning("embedding model failed to load; falling back to BM25", exc_info=True)
                return None
            _model = candidate
        return _model


def embed(texts: Sequence[str], embedder: Embedder | None = None) -> Vectors:
    """Embed ``texts`` through a per-process LRU cache keyed by (model, text).

    Why: the planner embeds the same tool and field descriptions for every
    question; only the new texts reach the model. Uses :func:`default_embedder`
    when ``embedder`` is None and raises :class:`ModelError` if there is none.
    """
    global _hits, _misses
    model = embedder if embedder is not None else _require_default()
    out = np.empty((len(texts), model.dim), dtype=np.float32)
    missing: list[int] = []
    with _lock:
        for i, text in enumerate(texts):
            key = (model.name, text)
            vec = _cache.get(key)
            if vec is None:
                missing.append(i)
            else:
                _cache.move_to_end(key)
                out[i] = vec
        _hits += len(texts) - len(missing)
        _misses += len(missing)
    if missing:
        unique = list(dict.fromkeys(texts[i] for i in missing))
        vectors = model.embed(unique)
        by_text = dict(zip(unique, vectors, strict=True))
        with _lock:
            for text, vec in by_text.items():
                vec.setflags(write=False)
                _cache[(model.name, text)] = vec
                _cache.move_to_end((model.name, text))
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        for i in missing:
            out[i] = by_text[texts[i]]
    return out


def similarity_matrix(a: Sequence[str], b: Sequence[str]) -> Vectors:
    """Cosine similarity of each text in ``a`` with each in ``b``, shape ``(len(a), len(b))``.

    Uses the default embedder (through the cache); raises :class:`ModelError`
    when there is none, so callers decide explicitly to fall back to BM25.
    """
    model = _require_default()
    result: Vectors = embed(a, model) @ embed(b, model).T
    return result


def cache_info() -> dict[str, int]:
    """Hits, misses and current size of the embedding cache (for tests and tuning)."""
    with _lock:
        return {"hits": _hits, "misses": _misses, "size": len(_cache), "maxsize": CACHE_SIZE}


def clear_cache() -> None:
    """Forget every cached vector and reset the counters."""
    global _hits, _misses
    with _lock:
        _cache.clear()
        _hits = _misses = 0


def _require_default() -> Embedder:
    model = default_embedder()
    if model is None:
        raise ModelError(
            f"no embedding model available ({ENV_VAR} disables it, or {MODEL_PACKAGE} "
            "is not installed or failed to load); use bm25_scores instead",
            provider="embedding",
        )
    return model


__all__ = [
    "CACHE_SIZE",
    "ENV_VAR",
    "Embedder",
    "MiniLMEmbedder",
    "Vectors",
    "bm25_scores",
    "cache_info",
    "clear_cache",
    "default_embedder",
    "embed",
    "similarity_matrix",
]
