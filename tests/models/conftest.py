"""Real parts for the integration tests: a `llama_cpp.server` on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ._http import free_port


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    """The shipped SmolLM2 GGUF; a clear failure (not a skip) when it is not installed."""
    from veritask.models.local import smollm2_path

    return smollm2_path()


@pytest.fixture(scope="session")
def llama_server(gguf_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on a free loopback port; yields its /v1 base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf_path),
        "--model_alias", "smollm2",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", "2048",
    ]  # fmt: skip
    with log.open("wb") as out:
        env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ}  # see veritask.models.local
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"llama_cpp.server exited {proc.returncode}:\n{log.read_text()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer in 90s:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    """The process's embedded-model engine, with the toggles a test may flip (replay,
    fast greedy, forcing) and its record put back afterwards."""
    from veritask.models import get_provider
    from veritask.models.local import LocalProvider

    provider = get_provider("local:smollm2-135m")
    assert isinstance(provider, LocalProvider)
    eng = provider.engine()
    yield eng
    eng.replay = True
    eng.fast_greedy = True
    eng.jump_forward = True
    eng.record = None
