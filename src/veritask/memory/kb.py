"""A knowledge base: documents cut into passages, found by words and by meaning.

Why: questions about a team's own documents (a handbook, a runbook) have no
tool that knows the answer; the documents do. An answer from them is only as
good as the passage it came from, so every passage keeps its source file,
heading path and character offsets (see `veritask.memory.chunking`).

Storage: ``.veritask/kb/NAME.db`` (beside the run store) holds files, chunks
and an FTS5 index (porter stemming) in SQLite, plus each chunk's vector as a
float32 blob — the durable copy. Search loads the vectors into a FAISS
inner-product index (``faiss-cpu``) once per process, or a numpy matrix when
FAISS is not installed (`VECTOR_BACKEND` says which). When no embedding model
is available (``VERITASK_EMBEDDER=none``) search is BM25 only.

Ingest is incremental: a file whose content hash is unchanged is skipped, a
changed file has its chunks replaced (vectors of unchanged chunk texts are
reused, not re-embedded), a file under an ingested directory that no longer
exists is removed, and a file whose content equals one already stored under
another path is recorded as a duplicate and not indexed twice. A file that
cannot be read (missing, binary, not UTF-8) is skipped and listed; it never
costs what was already ingested.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from veritask.embedding import Embedder, default_embedder
from veritask.embedding import embed as embed_texts
from veritask.errors import StoreError, UserError
from veritask.memory.chunking import (
    DEFAULT_MAX_CHARS,
    DEFAULT_MIN_CHARS,
    SUFFIXES,
    Chunk,
    chunk_text,
    format_of,
    read_document,
)
from veritask.store.sqlite import connect
from veritask.types import utcnow

_faiss: Any
try:  # FAISS is optional: a numpy matrix does the same exact search, slower at scale.
    import faiss as _faiss
except ImportError:  # pragma: no cover - depends on the install
    _faiss = None

VECTOR_BACKEND = "faiss" if _faiss is not None else "numpy"
DIR_ENV = "VERITASK_KB_DIR"
DEFAULT_DIR = ".veritask/kb"
RRF_K = 60
"""Reciprocal-rank fusion constant: score = sum over rankings of 1 / (RRF_K + rank)."""
CANDIDATES = 50
"""How many passages each ranking (BM25, vectors) contributes before fusion."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_TERM = re.compile(r"\w+")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL UNIQUE,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    format      TEXT NOT NULL,
    duplicate_of TEXT,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id       INTEGER PRIMARY KEY,
    file_id  INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    heading  TEXT NOT NULL,
    start    INTEGER NOT NULL,
    "end"    INTEGER NOT NULL,
    exact    INTEGER NOT NULL,
    text     TEXT NOT NULL,
    sha256   TEXT NOT NULL,
    vector   BLOB
);
CREATE INDEX IF NOT EXISTS chunks_file ON chunks(file_id);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(sha256);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    heading, text, content='chunks', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, heading, text) VALUES (new.id, new.heading, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, heading, text)
    VALUES ('delete', old.id, old.heading, old.text);
END;
"""


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk: where it is, what it says, and how it ranked."""

    chunk_id: int
    source: str
    heading: str
    start: int
    end: int
    text: str
    score: float
    """Reciprocal-rank-fusion score (higher is better; only comparable within one search)."""
    bm25_rank: int | None = None
    vector_rank: int | None = None
    similarity: float | None = None
    """Cosine similarity of the query and the passage, when vectors are available."""
    exact: bool = True

    @property
    def record_id(self) -> str:
        """``source:start-end``: what an evidence `Source` cites."""
        return f"{self.source}:{self.start}-{self.end}"


@dataclass
class IngestReport:
    """What one `ingest` call did, file by file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    """(path, the already-stored path with the same content)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, why it could not be ingested)."""
    chunks_indexed: int = 0
    vectors_embedded: int = 0

    @property
    def ingested(self) -> int:
        """Files now present in the KB as asked: added, updated or already current."""
        return len(self.added) + len(self.updated) + len(self.unchanged) + len(self.duplicates)


ProgressFn = Callable[[int, int, str], None]
"""on_progress(done, total, path) after each file."""


def kb_dir() -> Path:
    """Where knowledge bases live: ``$VERITASK_KB_DIR`` or ``.veritask/kb``."""
    return Path(os.environ.get(DIR_ENV) or DEFAULT_DIR)


def kb_path(name: str, directory: str | Path | None = None) -> Path:
    """The SQLite file of knowledge base ``name`` (the name is checked to be a plain word)."""
    if not _NAME.match(name):
        raise UserError(
            f"knowledge base name {name!r} must be letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return Path(directory if directory is not None else kb_dir()) / f"{name}.db"


def list_kbs(directory: str | Path | None = None) -> list[str]:
    """Names of the knowledge bases in ``directory`` (default `kb_dir()`)."""
    root = Path(directory if directory is not None else kb_dir())
    return sorted(p.stem for p in root.glob("*.db")) if root.is_dir() else []


def remove_kb(name: str, directory: str | Path | None = None) -> bool:
    """Delete knowledge base ``name`` (its database and WAL files); False if it did not exist."""
    path = kb_path(name, directory)
    existed = path.exists()
    for extra in ("", "-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    return existed


def _sha(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _fts_query(text: str) -> str:
    terms = list(dict.fromkeys(t.lower() for t in _TERM.findall(text)))[:64]
    return " OR ".join(f'"{t}"' for t in terms)


class KnowledgeBase:
    """One named knowledge base: ingest documents, search passages.

    Thread-safe for use from tool worker threads (one lock around the
    connection). ``embedder`` defaults to `veritask.embedding.default_embedder`;
    pass ``embedder=False`` to index and search with BM25 only.
    """

    def __init__(
        self,
        name: str,
        *,
        directory: str | Path | None = None,
        embedder: Embedder | bool | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        min_chars: int = DEFAULT_MIN_CHARS,
        create: bool = True,
    ) -> None:
        self.name = name
        self.path = kb_path(name, directory)
        if not create and not self.path.exists():
            known = ", ".join(list_kbs(self.path.parent)) or "none"
            raise UserError(
                f"no knowledge base {name!r} in {self.path.parent} (known: {known}); "
                f"create it with: veritask ingest PATH --kb {name}"
            )
        if embedder is False:
            self.embedder: Embedder | None = None
        elif embedder is None or embedder is True:
            self.embedder = default_embedder()
        else:
            self.embedder = embedder
        self.max_chars = max_chars
        self.min_chars = min_chars
        self._lock = threading.RLock()
        self._conn = connect(str(self.path), _SCHEMA, f"knowledge base {name!r}")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._index: Any = None
        self._index_ids: np.ndarray | None = None
        self._matrix: np.ndarray | None = None

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingest -------------------------------------------------------------------

    def ingest(
        self, paths: Sequence[str | Path], on_progress: ProgressFn | None = None
    ) -> IngestReport:
        """Add or refresh the documents at ``paths`` (files or directories, recursively).

        Returns what happened to each file. Never raises for one bad file: it
        is listed in ``report.skipped`` and the others go on.
        """
        report = IngestReport()
        files: list[Path] = []
        roots: list[Path] = []
        for raw in paths:
            p = Path(raw).expanduser()
            if p.is_dir():
                roots.append(p.resolve())
                files += sorted(
                    f
                    for f in p.resolve().rglob("*")
                    if f.is_file()
                    and f.suffix.lower() in SUFFIXES
                    and not any(part.startswith(".") for part in f.relative_to(p.resolve()).parts)
                )
            elif p.exists() and p.is_file() and format_of(p) is None:
                supported = ", ".join(sorted(SUFFIXES))
                why = f"unsupported file type (use {supported})"
                if p.suffix.lower() == ".pdf":  # quotes point into the file; a PDF's can't
                    why += f"; convert it first: pdftotext -layout {p.name} {p.stem}.txt"
                report.skipped.append((str(raw), why))
            elif p.exists():
                files.append(p.resolve())
            else:
                report.skipped.append((str(raw), "no such file or directory"))
        files = list(dict.fromkeys(files))
        for i, f in enumerate(files, start=1):
            self._ingest_file(f, report)
            if on_progress is not None:
                on_progress(i, len(files), str(f))
        self._prune(roots, set(map(str, files)), report)
        if report.added or report.updated or report.removed:
            self._drop_index()
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('embedder', ?)",
                (self.embedder.name if self.embedder else "none",),
            )
        return report

    def _ingest_file(self, path: Path, report: IngestReport) -> None:
        key = str(path)
        try:
            text = read_document(path)
        except UserError as exc:
            report.skipped.append((key, str(exc)))
            return
        digest = _sha(text)
        fmt = format_of(path) or "text"
        with self._lock:
            row = self._conn.execute(
                "SELECT id, sha256 FROM files WHERE path = ?", (key,)
            ).fetchone()
            if row is not None and row[1] == digest:
                report.unchanged.append(key)
                return
            twin = self._conn.execute(
                "SELECT path FROM files WHERE sha256 = ? AND path != ? AND duplicate_of IS NULL",
                (digest, key),
            ).fetchone()
        chunks = (
            []
            if twin
            else chunk_text(text, fmt, max_chars=self.max_chars, min_chars=self.min_chars)
        )
        vectors = self._vectors_for(chunks, report)
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                if row is not None:
                    self._conn.execute("DELETE FROM chunks WHERE file_id = ?", (row[0],))
                    self._conn.execute("DELETE FROM files WHERE id = ?", (row[0],))
                cur = self._conn.execute(
                    "INSERT INTO files (path, sha256, size, format, duplicate_of, ingested_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (key, digest, len(text), fmt, twin[0] if twin else None, utcnow().isoformat()),
                )
                file_id = cur.lastrowid
                self._conn.executemany(
                    'INSERT INTO chunks (file_id, seq, heading, start, "end", exact, text, sha256,'
                    " vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            file_id,
                            seq,
                            c.heading_path,
                            c.start,
                            c.end,
                            int(c.exact),
                            c.text,
                            _sha(c.heading_path + "\n" + c.text),
                            None if v is None else v.astype(np.float32).tobytes(),
                        )
                        for seq, (c, v) in enumerate(zip(chunks, vectors, strict=True))
                    ],
                )
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._conn.execute("ROLLBACK")
                raise StoreError(f"cannot write to knowledge base {self.name!r}: {exc}") from exc
        if twin:
            report.duplicates.append((key, twin[0]))
        else:
            (report.updated if row is not None else report.added).append(key)
            report.chunks_indexed += len(chunks)

    def _vectors_for(
        self, chunks: Sequence[Chunk], report: IngestReport
    ) -> list[np.ndarray | None]:
        """One vector per chunk, reusing stored vectors of identical chunks (content hash)."""
        if self.embedder is None or not chunks:
            return [None] * len(chunks)
        hashes = [_sha(c.heading_path + "\n" + c.text) for c in chunks]
        known: dict[str, np.ndarray] = {}
        with self._lock:
            for h in set(hashes):
                row = self._conn.execute(
                    "SELECT vector FROM chunks WHERE sha256 = ? AND vector IS NOT NULL LIMIT 1",
                    (h,),
                ).fetchone()
                if row is not None and len(row[0]) == 4 * self.embedder.dim:
                    known[h] = np.frombuffer(row[0], dtype=np.float32)
        todo = [i for i, h in enumerate(hashes) if h not in known]
        if todo:
            fresh = embed_texts([_embed_text(chunks[i]) for i in todo], self.embedder)
            for i, vec in zip(todo, fresh, strict=True):
                known[hashes[i]] = vec
            report.vectors_embedded += len(todo)
        return [known[h] for h in hashes]

    def _prune(self, roots: Iterable[Path], seen: set[str], report: IngestReport) -> None:
        """Remove stored files under an ingested directory that no longer exist there."""
        with self._lock:
            stored = self._conn.execute("SELECT id, path FROM files").fetchall()
            gone = [
                (fid, p)
                for fid, p in stored
                if p not in seen
                and any(Path(p).is_relative_to(r) for r in roots)
                and not Path(p).exists()
            ]
            if not gone:
                return
            self._conn.execute("BEGIN IMMEDIATE")
            for fid, p in gone:
                self._conn.execute("DELETE FROM chunks WHERE file_id = ?", (fid,))
                self._conn.execute("DELETE FROM files WHERE id = ?", (fid,))
                report.removed.append(p)
            self._conn.execute("COMMIT")

    # -- reading ------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Files, chunks, vectors, embedder and size: what `veritask kb show` prints."""
        with self._lock:
            files = self._conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
            chunks, vectors = self._conn.execute(
                "SELECT COUNT(*), COUNT(vector) FROM chunks"
            ).fetchone()
            meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        return {
            "name": self.name,
            "path": str(self.path),
            "files": files,
            "chunks": chunks,
            "vectors": vectors,
            "embedder": meta.get("embedder", "none"),
            "vector_backend": VECTOR_BACKEND,
        }

    def files(self) -> list[dict[str, Any]]:
        """Each stored file: path, format, chunks, and what it duplicates (if anything)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT f.path, f.format, f.size, f.duplicate_of, COUNT(c.id) FROM files f"
                " LEFT JOIN chunks c ON c.file_id = f.id GROUP BY f.id ORDER BY f.path"
            ).fetchall()
        return [
            {"path": p, "format": fmt, "chars": size, "duplicate_of": dup, "chunks": n}
            for p, fmt, size, dup, n in rows
        ]

    def vocabulary(self, limit: int = 3000) -> list[str]:
        """The KB's most frequent words (4+ letters): what its documents talk about.

        Why: the planner refuses a question none of whose words a toolkit
        speaks; a `kb` toolkit speaks the words of its documents.
        """
        counts: dict[str, int] = {}
        with self._lock:
            rows = self._conn.execute("SELECT heading, text FROM chunks LIMIT 20000").fetchall()
        for heading, text in rows:
            for w in _TERM.findall(f"{heading} {text}".lower()):
                if len(w) >= 4 and w.isalpha():
                    counts[w] = counts.get(w, 0) + 1
        return sorted(counts, key=lambda w: (-counts[w], w))[:limit]

    def search(self, query: str, k: int = 5) -> list[Passage]:
        """The ``k`` passages best matching ``query``: BM25 and vector rankings fused by RRF.

        Each ranking contributes its top `CANDIDATES`; a passage's score is
        the sum of 1/(RRF_K + rank) over the rankings it appears in.
        """
        if k < 1 or not query.strip():
            return []
        lexical = self._bm25(query, CANDIDATES)
        vector = self._vector(query, CANDIDATES)
        fused: dict[int, float] = {}
        for ranking in (lexical, [cid for cid, _ in vector]):
            for rank, cid in enumerate(ranking, start=1):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        best = sorted(fused, key=lambda c: (-fused[c], c))[:k]
        bm25_rank = {cid: r for r, cid in enumerate(lexical, start=1)}
        vec_rank = {cid: r for r, (cid, _) in enumerate(vector, start=1)}
        sims = dict(vector)
        if best and self.embedder is not None:
            missing = [c for c in best if c not in sims]
            sims.update(self._similarities(query, missing))
        return [
            self._passage(cid, fused[cid], bm25_rank.get(cid), vec_rank.get(cid), sims.get(cid))
            for cid in best
        ]

    def _passage(
        self, cid: int, score: float, br: int | None, vr: int | None, sim: float | None
    ) -> Passage:
        with self._lock:
            row = self._conn.execute(
                'SELECT f.path, c.heading, c.start, c."end", c.text, c.exact FROM chunks c'
                " JOIN files f ON f.id = c.file_id WHERE c.id = ?",
                (cid,),
            ).fetchone()
        return Passage(
            cid, row[0], row[1], row[2], row[3], row[4], score, br, vr, sim, bool(row[5])
        )

    def _bm25(self, query: str, n: int) -> list[int]:
        match = _fts_query(query)
        if not match:
            return []
        with self._lock:
            try:
                rows = self._conn.execute(
                    "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?"
                    " ORDER BY bm25(chunks_fts, 0.5, 1.0) LIMIT ?",
                    (match, n),
                ).fetchall()
            except sqlite3.OperationalError:
                return []
        return [r[0] for r in rows]

    def _vector(self, query: str, n: int) -> list[tuple[int, float]]:
        if self.embedder is None:
            return []
        self._load_index()
        ids = self._index_ids
        if ids is None or len(ids) == 0:
            return []
        q = embed_texts([query], self.embedder).astype(np.float32)
        n = min(n, len(ids))
        if self._index is not None:
            scores, pos = self._index.search(q, n)
            pairs = zip(pos[0].tolist(), scores[0].tolist(), strict=True)
            return [(int(ids[p]), float(s)) for p, s in pairs if p >= 0]
        assert self._matrix is not None
        sims = self._matrix @ q[0]
        order = np.argsort(-sims)[:n]
        return [(int(ids[p]), float(sims[p])) for p in order]

    def _similarities(self, query: str, cids: Sequence[int]) -> dict[int, float]:
        if not cids or self.embedder is None:
            return {}
        self._load_index()
        if self._matrix is None or self._index_ids is None:
            return {}
        q = embed_texts([query], self.embedder)[0]
        where = {int(c): i for i, c in enumerate(self._index_ids.tolist())}
        return {c: float(self._matrix[where[c]] @ q) for c in cids if c in where}

    def _load_index(self) -> None:
        """Vectors from SQLite into FAISS (or numpy), once until the next ingest."""
        with self._lock:
            if self._index_ids is not None:
                return
            assert self.embedder is not None
            rows = self._conn.execute(
                "SELECT id, vector FROM chunks WHERE vector IS NOT NULL ORDER BY id"
            ).fetchall()
            dim = self.embedder.dim
            rows = [r for r in rows if len(r[1]) == 4 * dim]
            matrix = np.zeros((len(rows), dim), dtype=np.float32)
            for i, (_, blob) in enumerate(rows):
                matrix[i] = np.frombuffer(blob, dtype=np.float32)
            self._matrix = matrix
            self._index_ids = np.array([r[0] for r in rows], dtype=np.int64)
            if _faiss is not None and len(rows):
                index = _faiss.IndexFlatIP(dim)
                index.add(matrix)
                self._index = index
            else:
                self._index = None

    def _drop_index(self) -> None:
        with self._lock:
            self._index = None
            self._index_ids = None
            self._matrix = None


def _embed_text(chunk: Chunk) -> str:
    """What a chunk's vector is computed from: its headings give it context."""
    return f"{chunk.heading_path}\n{chunk.text}" if chunk.heading else chunk.text


__all__ = [
    "CANDIDATES",
    "DIR_ENV",
    "RRF_K",
    "VECTOR_BACKEND",
    "IngestReport",
    "KnowledgeBase",
    "Passage",
    "kb_dir",
    "kb_path",
    "list_kbs",
    "read_document",
    "remove_kb",
]
