"""Chunking follows headings and paragraphs, and every chunk's offsets point into the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from veritask.memory.chunking import chunk_text, format_of

FIXTURE = Path(__file__).parent / "kb_fixture"


@pytest.mark.parametrize("name", ["bakery.md", "bikes.rst", "notes.txt", "injected.md"])
def test_chunk_offsets_are_exact_slices_of_the_file(name: str) -> None:
    source = (FIXTURE / name).read_text(encoding="utf-8")
    chunks = chunk_text(source, format_of(name) or "text")
    assert chunks
    for c in chunks:
        assert c.exact
        assert source[c.start : c.end] == c.text


def test_markdown_heading_paths_and_no_chunk_crosses_a_heading() -> None:
    source = (FIXTURE / "bakery.md").read_text(encoding="utf-8")
    chunks = chunk_text(source, "markdown")
    by_heading = {c.heading_path: c.text for c in chunks}
    top = "Harbor Bakery operations manual"
    assert "Harbor Bakery runs its kitchen" in by_heading[top]
    assert "red label" in by_heading[f"{top} > Food safety > Allergens"]
    assert "peroxide" in by_heading[f"{top} > Food safety > Cleaning"]
    assert all("#" not in c.text for c in chunks)


def test_rst_underlined_headings_nest_by_first_use() -> None:
    source = (FIXTURE / "bikes.rst").read_text(encoding="utf-8")
    headings = {c.heading_path for c in chunk_text(source, "rst")}
    assert headings == {"Bicycle repair guide > Brakes", "Bicycle repair guide > Tyres"}


def test_long_paragraphs_split_at_sentences_within_max_chars() -> None:
    sentence = "The oven door must stay closed during the first bake. "
    source = "# Rules\n\n" + sentence * 30 + "\n"
    chunks = chunk_text(source, "markdown", max_chars=200, min_chars=50)
    assert len(chunks) > 5
    for c in chunks:
        assert len(c.text) <= 200
        assert source[c.start : c.end] == c.text
        assert c.text.endswith(".")


def test_small_paragraphs_are_packed_together() -> None:
    source = "one.\n\ntwo.\n\nthree.\n"
    chunks = chunk_text(source, "text", max_chars=100, min_chars=20)
    assert len(chunks) == 1 and chunks[0].text == "one.\n\ntwo.\n\nthree."


def test_html_text_headings_and_offsets_cover_the_source() -> None:
    source = (FIXTURE / "garden.html").read_text(encoding="utf-8")
    chunks = chunk_text(source, "html")
    assert [c.heading_path for c in chunks] == ["Compost guide", "Compost guide > Worms"]
    assert chunks[0].text == "Turn the compost heap every two weeks to keep it aerobic."
    assert "color" not in " ".join(c.text for c in chunks)  # style skipped
    for c in chunks:
        assert not c.exact
        assert c.text.split()[0] in source[c.start : c.end]
        assert c.text.split()[-1].rstrip(".") in source[c.start : c.end]
