"""BERT (uncased) WordPiece tokenisation in pure Python.

Why not the ``tokenizers`` wheel: it is another ~12 MB compiled dependency for
what is, for short planner texts, a few dictionary look-ups. This reproduces
HF ``BertNormalizer(lowercase, strip accents, clean text, CJK spacing)`` +
``BertPreTokenizer`` + ``WordPiece(##, [UNK], 100 chars)`` + ``[CLS] … [SEP]``,
which is what all-MiniLM-L6-v2's ``tokenizer.json`` specifies.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

_MAX_WORD_CHARS = 100


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def _normalise(text: str) -> str:
    out: list[str] = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if ch.isspace():
            out.append(" ")
        elif _is_cjk(cp):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    lowered = "".join(out).lower()
    decomposed = unicodedata.normalize("NFD", lowered)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def _pre_tokenise(text: str) -> list[str]:
    words: list[str] = []
    for chunk in text.split():
        current: list[str] = []
        for ch in chunk:
            if _is_punct(ch):
                if current:
                    words.append("".join(current))
                    current = []
                words.append(ch)
            else:
                current.append(ch)
        if current:
            words.append("".join(current))
    return words


class WordPiece:
    """Turns text into BERT input ids with a fixed vocabulary."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self._ids = {tok: i for i, tok in enumerate(tokens)}
        self.unk_id = self._ids["[UNK]"]
        self.cls_id = self._ids["[CLS]"]
        self.sep_id = self._ids["[SEP]"]
        self.pad_id = self._ids["[PAD]"]

    def _word_ids(self, word: str) -> list[int]:
        if len(word) > _MAX_WORD_CHARS:
            return [self.unk_id]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = -1
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self._ids.get(piece, -1)
                if found >= 0:
                    break
                end -= 1
            if found < 0:
                return [self.unk_id]
            ids.append(found)
            start = end
        return ids

    def encode(self, text: str, max_length: int) -> list[int]:
        """Ids of ``[CLS] text [SEP]``, truncated to ``max_length`` ids in all."""
        ids: list[int] = []
        for word in _pre_tokenise(_normalise(text)):
            ids.extend(self._word_ids(word))
        return [self.cls_id, *ids[: max_length - 2], self.sep_id]
