"""Importing veritask makes helper thread pools wait asleep (see veritask._threads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, os
import veritask
import numpy
out = {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS")}
try:
    from threadpoolctl import threadpool_info
except ImportError:
    out["blas"] = None
else:
    out["blas"] = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
print(json.dumps(out))
"""


def probe(**env: str) -> dict[str, object]:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS")
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_import_sets_passive_waiting_and_one_blas_thread_before_numpy_loads() -> None:
    seen = probe()
    assert seen["OMP_WAIT_POLICY"] == "PASSIVE"
    assert seen["OPENBLAS_NUM_THREADS"] == "1"
    if seen["blas"] is not None:  # numpy's BLAS took the setting when it loaded
        assert seen["blas"] and set(seen["blas"]) == {1}  # type: ignore[arg-type]


def test_a_value_the_user_set_is_kept() -> None:
    seen = probe(OPENBLAS_NUM_THREADS="2", OMP_WAIT_POLICY="ACTIVE")
    assert seen["OPENBLAS_NUM_THREADS"] == "2"
    assert seen["OMP_WAIT_POLICY"] == "ACTIVE"
