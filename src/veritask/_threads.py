"""Helper thread pools wait asleep, not spinning: set before numpy or llama.cpp load.

Why: veritask runs an embedded llama.cpp model beside numpy (the embedding
model, vector search) on machines with few cores. By default OpenMP threads
(llama.cpp, faiss) spin after each parallel region and OpenBLAS starts one
thread per core for every matrix product, its idle threads spinning too; on
two cores those spinning threads take the CPU llama.cpp's decoding needs.
Both libraries read these variables once, when they load, so importing
`veritask` sets them first thing (every entry point — CLI, API server, Celery
worker, bench — imports the package before anything else). Values already
in the environment are kept: a user who wants multi-threaded BLAS sets
`OPENBLAS_NUM_THREADS` before starting Python. A process that loaded numpy
before importing veritask keeps numpy's own setting (the embedder still
runs its own graph with one BLAS thread, through threadpoolctl).
"""

from __future__ import annotations

import os

QUIET_THREADS = {
    "OMP_WAIT_POLICY": "PASSIVE",
    "OPENBLAS_NUM_THREADS": "1",
}
"""Set where unset. numpy's products here are small (a six-layer encoder over a
sentence), so one BLAS thread loses nothing and leaves the cores to llama.cpp."""


def quiet_threads() -> None:
    """Put `QUIET_THREADS` in the environment where the user has not set them."""
    for name, value in QUIET_THREADS.items():
        os.environ.setdefault(name, value)


quiet_threads()  # on import: `veritask/__init__.py` imports this module first


__all__ = ["QUIET_THREADS", "quiet_threads"]
