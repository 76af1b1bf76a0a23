"""Cut documents into passages that follow their headings and paragraphs.

Why: an answer from a knowledge base must cite *where* it came from — file,
heading, and the exact characters — so a reader can check it. Every chunk
therefore keeps the character offsets of its text in the decoded source file:
for Markdown, reStructuredText and plain text ``source[start:end] == chunk.text``
exactly, so any quote inside a chunk maps back to the file by adding
``chunk.start``. HTML is the exception: its text is extracted from between
the tags, so a chunk's offsets span the markup that holds it and its text is
the whitespace-normalised words in that range (``Chunk.exact`` is False).

Chunks never cross a heading; paragraphs are packed up to ``max_chars`` and a
paragraph longer than that is split at sentence ends (then at spaces).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from veritask.errors import UserError

SUFFIXES: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".rst": "rst",
    ".html": "html",
    ".htm": "html",
}
"""File suffixes the knowledge base reads, and the format each is parsed as."""

DEFAULT_MAX_CHARS = 1200
DEFAULT_MIN_CHARS = 200

_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`*+#:.])\1{2,}[ \t]*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=\S)")


@dataclass(frozen=True)
class Chunk:
    """One passage: its text, the headings above it, and where it sits in the file."""

    text: str
    heading: tuple[str, ...]
    start: int
    end: int
    exact: bool = True
    """True when ``source[start:end] == text`` (all formats but HTML)."""

    @property
    def heading_path(self) -> str:
        """Headings from the top, joined with " > " (empty for text before any heading)."""
        return " > ".join(self.heading)


@dataclass(frozen=True)
class _Block:
    """A paragraph (or heading) with offsets into the source."""

    start: int
    end: int
    heading: tuple[str, ...] | None = None
    """Set on heading blocks: the full heading path *after* this heading."""


def read_document(path: Path) -> str:
    """The decoded text of a document, or a UserError that says why it cannot be read.

    Binary files (a NUL byte, or bytes that are not UTF-8) are refused rather
    than indexed as noise.
    """
    if not path.exists():
        raise UserError("no such file")
    if not path.is_file():
        raise UserError("not a regular file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read it ({exc.strerror or exc})") from exc
    if b"\x00" in data[:8192]:
        raise UserError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"not UTF-8 text (byte {exc.start} is invalid); binary?") from exc


def format_of(path: str | Path) -> str | None:
    """The format a file is parsed as, from its suffix; None when it is not supported."""
    return SUFFIXES.get(Path(path).suffix.lower())


def chunk_text(
    text: str,
    fmt: str = "text",
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    min_chars: int = DEFAULT_MIN_CHARS,
) -> list[Chunk]:
    """Split decoded ``text`` of format ``fmt`` (markdown, rst, text, html) into chunks.

    ``max_chars`` bounds a chunk (a single over-long sentence is cut at a
    space); paragraphs under one heading are packed together until adding the
    next would pass ``max_chars``. ``min_chars`` is the size below which a
    chunk is merged with the next paragraph rather than closed early.
    """
    if max_chars < 50:
        raise ValueError("max_chars must be at least 50")
    if fmt == "html":
        return _chunk_html(text, max_chars=max_chars, min_chars=min_chars)
    if fmt == "markdown":
        blocks = _markdown_blocks(text)
    elif fmt == "rst":
        blocks = _rst_blocks(text)
    else:
        blocks = _paragraphs(text, 0, len(text))
    return _pack(text, blocks, max_chars=max_chars, min_chars=min_chars)


# -- blocks ------------------------------------------------------------------------


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each line in text[start:end], end excluding the newline."""
    out = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        out.append((pos, stop))
        pos = stop + 1
    return out


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _paragraphs(text: str, start: int, end: int) -> list[_Block]:
    """Runs of non-blank lines in text[start:end]."""
    blocks: list[_Block] = []
    para_start: int | None = None
    last_end = start
    for ls, le in _lines(text, start, end):
        if text[ls:le].strip():
            if para_start is None:
                para_start = ls
            last_end = le
        elif para_start is not None:
            blocks.append(_Block(*_trimmed(text, para_start, last_end)))
            para_start = None
    if para_start is not None:
        blocks.append(_Block(*_trimmed(text, para_start, last_end)))
    return [b for b in blocks if b.end > b.start]


def _markdown_blocks(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    path: list[tuple[int, str]] = []
    body_start = 0
    in_fence = False
    for ls, le in _lines(text, 0, len(text)):
        line = text[ls:le]
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        m = None if in_fence else _MD_HEADING.match(line)
        if m is None:
            continue
        blocks += _paragraphs(text, body_start, ls)
        level = len(m.group(1))
        path = [(lv, t) for lv, t in path if lv < level] + [(level, m.group(2).strip())]
        blocks.append(_Block(ls, le, heading=tuple(t for _, t in path)))
        body_start = min(le + 1, len(text))
    return blocks + _paragraphs(text, body_start, len(text))


def _rst_blocks(text: str) -> list[_Block]:
    lines = _lines(text, 0, len(text))
    blocks: list[_Block] = []
    levels: list[str] = []  # underline characters in order of first use
    path: list[str] = []
    body_start = 0
    i = 0
    while i < len(lines) - 1:
        ls, le = lines[i]
        title = text[ls:le].strip()
        us, ue = lines[i + 1]
        under = _RST_UNDERLINE.match(text[us:ue])
        if not (title and under and len(text[us:ue].rstrip()) >= len(title)):
            i += 1
            continue
        if _RST_UNDERLINE.match(text[ls:le]):
            i += 1
            continue
        over = i > 0 and _RST_UNDERLINE.match(text[lines[i - 1][0] : lines[i - 1][1]])
        head_start = lines[i - 1][0] if over else ls
        blocks += _paragraphs(text, body_start, head_start)
        char = under.group(1) + ("o" if over else "")
        if char not in levels:
            levels.append(char)
        depth = levels.index(char)
        path = [*path[:depth], title]
        blocks.append(_Block(head_start, ue, heading=tuple(path)))
        body_start = min(ue + 1, len(text))
        i += 2
    return blocks + _paragraphs(text, body_start, len(text))


# -- packing -----------------------------------------------------------------------


def _pieces(text: str, block: _Block, max_chars: int) -> list[tuple[int, int]]:
    """A block cut into pieces of at most max_chars, at sentence ends, else at spaces."""
    if block.end - block.start <= max_chars:
        return [(block.start, block.end)]
    cuts = [block.start]
    for m in _SENTENCE_END.finditer(text, block.start, block.end):
        cuts.append(m.end())
    cuts.append(block.end)
    out: list[tuple[int, int]] = []
    cur = cuts[0]
    for nxt, after in itertools.pairwise(cuts):
        if after - cur > max_chars and nxt > cur:
            out.append((cur, nxt))
            cur = nxt
    out.append((cur, block.end))
    final: list[tuple[int, int]] = []
    for s, e in out:
        while e - s > max_chars:
            cut = text.rfind(" ", s + max_chars // 2, s + max_chars)
            cut = cut if cut > s else s + max_chars
            final.append(_trimmed(text, s, cut))
            s = cut
        final.append(_trimmed(text, s, e))
    return [p for p in final if p[1] > p[0]]


def _pack(text: str, blocks: list[_Block], *, max_chars: int, min_chars: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    heading: tuple[str, ...] = ()
    cur: tuple[int, int] | None = None

    def close() -> None:
        nonlocal cur
        if cur is not None:
            chunks.append(Chunk(text[cur[0] : cur[1]], heading, cur[0], cur[1]))
            cur = None

    for block in blocks:
        if block.heading is not None:
            close()
            heading = block.heading
            continue
        for s, e in _pieces(text, block, max_chars):
            if cur is not None and e - cur[0] > max_chars and cur[1] - cur[0] >= min_chars // 4:
                close()
            cur = (s, e) if cur is None else (cur[0], e)
            if cur[1] - cur[0] >= max_chars:
                close()
    close()
    return chunks


# -- HTML --------------------------------------------------------------------------

_HTML_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_HTML_BLOCKS = frozenset(
    "p div li ul ol table tr td th pre blockquote section article br dd dt dl header footer "
    "main nav aside figure figcaption".split()
)
_HTML_SKIP = frozenset({"script", "style", "head", "title", "noscript", "template"})


class _HtmlText(HTMLParser):
    """Collects text runs with their offsets, split into paragraphs at block tags."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.paragraphs: list[tuple[tuple[str, ...], list[tuple[str, int, int]]]] = []
        self.path: list[tuple[int, str]] = []
        self.current: list[tuple[str, int, int]] = []
        self.skip = 0
        self.heading_level = 0
        self.heading_text: list[str] = []

    def position(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def flush(self) -> None:
        if any(t.strip() for t, _, _ in self.current):
            self.paragraphs.append((tuple(t for _, t in self.path), self.current))
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_SKIP:
            self.skip += 1
        elif tag in _HTML_HEADINGS:
            self.flush()
            self.heading_level = _HTML_HEADINGS[tag]
            self.heading_text = []
        elif tag in _HTML_BLOCKS:
            self.flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _HTML_HEADINGS and self.heading_level:
            title = " ".join(" ".join(self.heading_text).split())
            level = self.heading_level
            self.path = [(lv, t) for lv, t in self.path if lv < level] + [(level, title)]
            self.heading_level = 0
        elif tag in _HTML_BLOCKS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.heading_level:
            self.heading_text.append(data)
            return
        start = self.position()
        # With convert_charrefs the data may be shorter than its source; the
        # next tag's position bounds it, so store the start and fix the end later.
        self.current.append((data, start, start + len(data)))


def _chunk_html(source: str, *, max_chars: int, min_chars: int) -> list[Chunk]:
    parser = _HtmlText(source)
    parser.feed(source)
    parser.close()
    parser.flush()
    chunks: list[Chunk] = []
    for heading, runs in parser.paragraphs:
        words = " ".join(" ".join(t for t, _, _ in runs).split())
        start = runs[0][1]
        end = min(len(source), max(e for _, _, e in runs))
        if (
            chunks
            and chunks[-1].heading == heading
            and (
                len(chunks[-1].text) + len(words) + 1 <= max_chars
                and len(chunks[-1].text) < min_chars * 4
            )
        ):
            prev = chunks.pop()
            chunks.append(Chunk(prev.text + "\n" + words, heading, prev.start, end, exact=False))
            continue
        while len(words) > max_chars:
            cut = words.rfind(" ", max_chars // 2, max_chars)
            cut = cut if cut > 0 else max_chars
            chunks.append(Chunk(words[:cut], heading, start, end, exact=False))
            words = words[cut:].strip()
        if words:
            chunks.append(Chunk(words, heading, start, end, exact=False))
    return chunks


__all__ = [
    "DEFAULT_MAX_CHARS",
    "DEFAULT_MIN_CHARS",
    "SUFFIXES",
    "Chunk",
    "chunk_text",
    "format_of",
    "read_document",
]
