"""System-message states of the embedded model kept on disk, for the next process.

Why: every `veritask run`, `ask` or `bench` is a new process, and its first
question reads the planner's system message (instructions and the tool
catalogue, ~550 tokens: ~2 s on two cores) before its own words. Within a
process the state after it is saved in memory (`_llama_prefix`); this keeps
it on disk too, so the next process with the same model, context size,
llama.cpp build and catalogue restores it instead (a ~13 MB file read).
Only system messages are kept: an example turn's state serves few
questions, and a question's none.

A file is named by a hash of what makes its state valid — the model file
(path, size, modification time), the context size, llama-cpp-python's
version and the prefix's tokens — so a changed catalogue, model or
llama-cpp-python version simply misses (a rebuild of the same version with
other CPU flags does not: clear the directory after one). A file that is
too short, says another length, or that llama.cpp refuses is deleted and
the prefix read as before; damage llama.cpp cannot see is not detected (no
checksum). A full or read-only disk only means nothing is kept. At most
`keep` files stay, the least recently restored or written go. What is kept
is a prompt's first saved boundary: its system message, or when that is
under `MIN_PREFIX` tokens (or absent), its first example turn.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import tempfile
import time
from pathlib import Path

from veritask.models._llama_twin import SavedState

DISK_STATES = 6
"""Files kept (a 550-token state of SmolLM2-135M is ~13 MB): the planner's
catalogue for a few toolkit sets, the single-agent loop's and the deep agent's."""

_MAGIC = b"VTKV0001"
_PREFIX = "veritask-"
"""Only files named so are read or removed: the directory may hold others' files."""
STALE_TMP_S = 3600
"""A half-written file this old was left by a process that died while writing."""
_HEADER = struct.Struct("<8sI")  # magic, tokens the state holds


class DiskStates:
    """Saved states in one directory, for one model file, context size and build."""

    def __init__(self, directory: Path, model: Path, n_ctx: int, keep: int = DISK_STATES) -> None:
        import llama_cpp

        self.directory = directory.expanduser()
        self.keep = keep
        stat = model.stat()
        identity = f"{model.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{n_ctx}"
        self._identity = f"{identity}|{llama_cpp.__version__}".encode()
        self.loaded = 0
        """States restored from disk so far (tests read it)."""

    def path(self, tokens: tuple[int, ...]) -> Path:
        digest = hashlib.sha256(self._identity)
        digest.update(struct.pack(f"<{len(tokens)}i", *tokens))
        return self.directory / f"{_PREFIX}{digest.hexdigest()[:40]}.kv"

    def get(self, tokens: tuple[int, ...]) -> SavedState | None:
        """The state of exactly `tokens`, if a file holds it."""
        path = self.path(tokens)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if len(data) < _HEADER.size:
            self.forget(tokens)
            return None
        magic, n_tokens = _HEADER.unpack_from(data)
        if magic != _MAGIC or n_tokens != len(tokens):
            self.forget(tokens)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: evicted last
        return SavedState(data[_HEADER.size :], n_tokens)

    def put(self, tokens: tuple[int, ...], state: SavedState) -> None:
        """Keep `state` (of `tokens`) for later processes; never fails a call."""
        tmp: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=_PREFIX, suffix=".tmp")
            with os.fdopen(fd, "wb") as out:
                out.write(_HEADER.pack(_MAGIC, state.n_tokens))
                out.write(state.data)
            os.replace(tmp, self.path(tokens))  # readers see a whole file or none
        except OSError:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            return
        self._evict()

    def forget(self, tokens: tuple[int, ...]) -> None:
        """Delete the file of `tokens` (unreadable, or refused by llama.cpp)."""
        with contextlib.suppress(OSError):
            self.path(tokens).unlink()

    def _evict(self) -> None:
        try:
            files = sorted(
                self.directory.glob(f"{_PREFIX}*.kv"), key=lambda p: p.stat().st_mtime_ns
            )
            now = time.time()
            stale = [
                p
                for p in self.directory.glob(f"{_PREFIX}*.tmp")
                if now - p.stat().st_mtime > STALE_TMP_S
            ]
        except OSError:
            return
        for old in [*files[: max(0, len(files) - self.keep)], *stale]:
            with contextlib.suppress(OSError):
                old.unlink()
