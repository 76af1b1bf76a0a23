"""Ingest, incremental re-ingest, de-duplication, bad files, and hybrid retrieval."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from veritask.memory.kb import KnowledgeBase, list_kbs, remove_kb

FIXTURE = Path(__file__).parent / "kb_fixture"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    shutil.copytree(FIXTURE, d)
    return d


@pytest.fixture
def kb(tmp_path: Path, docs: Path) -> KnowledgeBase:
    base = KnowledgeBase("fixture", directory=tmp_path / "kb")
    report = base.ingest([docs])
    assert len(report.added) == 5 and not report.skipped
    return base


def test_ingest_stores_chunks_vectors_and_offsets(kb: KnowledgeBase, docs: Path) -> None:
    stats = kb.stats()
    assert stats["files"] == 5 and stats["chunks"] == stats["vectors"] > 5
    for p in kb.search("sourdough starter feeding", 3):
        if p.exact:
            assert Path(p.source).read_text(encoding="utf-8")[p.start : p.end] == p.text


def test_reingest_only_reindexes_changed_files_and_removes_deleted(
    kb: KnowledgeBase, docs: Path
) -> None:
    again = kb.ingest([docs])
    assert len(again.unchanged) == 5 and again.chunks_indexed == 0
    notes = docs / "notes.txt"
    notes.write_text(
        notes.read_text(encoding="utf-8") + "\nCucumbers need a trellis of 2 metres.\n",
        encoding="utf-8",
    )
    (docs / "bikes.rst").unlink()
    report = kb.ingest([docs])
    assert report.updated == [str(notes.resolve())]
    assert report.removed == [str((docs / "bikes.rst").resolve())]
    assert len(report.unchanged) == 3
    # Unchanged chunks of the edited file keep their vectors; only the new text is embedded.
    assert report.vectors_embedded < report.chunks_indexed or report.chunks_indexed == 1
    assert all("bikes.rst" not in p.source for p in kb.search("brake pads tyre", 5))
    assert "trellis" in kb.search("cucumber trellis height", 1)[0].text


def test_same_content_under_two_paths_is_indexed_once(kb: KnowledgeBase, docs: Path) -> None:
    twin = docs / "copy" / "bakery-again.md"
    twin.parent.mkdir()
    shutil.copy(docs / "bakery.md", twin)
    before = kb.stats()["chunks"]
    report = kb.ingest([docs])
    assert report.duplicates == [(str(twin.resolve()), str((docs / "bakery.md").resolve()))]
    assert kb.stats()["chunks"] == before


def test_binary_and_missing_files_are_skipped_and_nothing_is_lost(
    kb: KnowledgeBase, docs: Path, tmp_path: Path
) -> None:
    binary = docs / "photo.md"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    latin = docs / "latin1.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    before = kb.stats()
    report = kb.ingest([binary, latin, tmp_path / "nowhere.md"])
    reasons = dict(report.skipped)
    assert "binary" in reasons[str(binary.resolve())]
    assert "UTF-8" in reasons[str(latin.resolve())]
    assert "no such file" in reasons[str(tmp_path / "nowhere.md")]
    assert report.ingested == 0
    assert kb.stats() == before


def test_a_pdf_is_skipped_with_how_to_convert_it(kb: KnowledgeBase, docs: Path) -> None:
    pdf = docs.parent / "handbook.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n")
    report = kb.ingest([pdf])
    (reason,) = [why for path, why in report.skipped if path == str(pdf)]
    assert "unsupported file type" in reason and "pdftotext" in reason and "handbook.txt" in reason


def test_hybrid_retrieval_ranks_the_right_passage_first(kb: KnowledgeBase) -> None:
    cases = {
        "How hot does the deck oven get?": "bakery.md",
        "When should rim brake pads be replaced?": "bikes.rst",
        "How much water does a tomato seedling get?": "notes.txt",
        "How often is the compost heap turned?": "garden.html",
        "pressure for a road bike tyre": "bikes.rst",
    }
    for question, source in cases.items():
        top = kb.search(question, 3)
        assert top[0].source.endswith(source), (question, top[0])
        assert top[0].score >= top[-1].score
        assert top[0].record_id == f"{top[0].source}:{top[0].start}-{top[0].end}"


def test_vectors_find_a_paraphrase_that_shares_no_word(kb: KnowledgeBase) -> None:
    top = kb.search("puncture bubbles", 1)[0]
    assert top.source.endswith("bikes.rst")
    meaning = kb.search("finding a leak in an inner tube", 3)
    assert any(p.source.endswith("bikes.rst") and p.vector_rank for p in meaning)


def test_bm25_only_when_no_embedder(tmp_path: Path, docs: Path) -> None:
    base = KnowledgeBase("lexical", directory=tmp_path / "kb", embedder=False)
    base.ingest([docs])
    assert base.stats()["vectors"] == 0
    top = base.search("sesame label", 1)[0]
    assert "sesame" in top.text and top.vector_rank is None and top.bm25_rank == 1


def test_list_and_remove(tmp_path: Path, kb: KnowledgeBase) -> None:
    assert list_kbs(tmp_path / "kb") == ["fixture"]
    kb.close()
    assert remove_kb("fixture", tmp_path / "kb") is True
    assert list_kbs(tmp_path / "kb") == []
    assert remove_kb("fixture", tmp_path / "kb") is False
