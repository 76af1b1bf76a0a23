"""The one interface every embedder in veritask satisfies.

Callers (the planner picking tools, fields and examples by meaning; later a
knowledge base) depend on this Protocol, not on a model, so a test double or a
different model can stand in without touching them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
"""Shape ``(n, dim)``, float32, each row of L2 norm 1 (so dot product = cosine)."""


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to unit vectors whose dot products measure closeness of meaning."""

    name: str
    """Identifies the model; part of cache keys, so two models never share vectors."""

    dim: int
    """Length of each vector."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` in order: float32 array of shape ``(len(texts), dim)``, rows
        L2-normalised. An empty input gives shape ``(0, dim)``."""
        ...


__all__ = ["Embedder", "Vectors"]
