"""Candidate answers a text names, so a copied span that names two of them can be refused.

A span is a good answer when it names one thing. "Bristol, near the Leeds road"
or "Room 4B was booked first, but the meeting moved to Room 7C" name two
things of the same kind, and which one the request meant is exactly what the
span does not say: taking it as an answer is a confident pick of nobody knows
which. A small model copies such spans stably (the same span in every sample),
so agreement between samples cannot catch it; reading the span can.

What counts as a candidate is generic, read from the writing, not from any
domain: a *mention* is a run of consecutive words each holding a digit
("4B", "9:45", "240") or starting with a capital letter, where a word that
starts a sentence counts only if the next word counts too ("Room 4B was
booked", not "Lunch is in"). A run ends at clause punctuation ("Bristol,").
A lone capital letter ("I") is no mention. The price of reading capitals
without a dictionary: a one-word name that starts a sentence ("Bristol, near
the Leeds road." as a whole text) is missed, and the span passes.

Two mentions *compete* when their texts differ and they are of the same
kind, meaning the same shape once repeated classes are merged: capitalised
words ("Leeds"; "Ines Costa" is the same kind as "Ravi Shah"), numbers
("12", "240"), a capitalised word and a number ("Room 4B", "Room 7C").
"March 3, 2024" names a capitalised-and-number and a number: different kinds,
one date. Two names joined in one answer ("Paris, France") are refused: a
loss of coverage, never a wrong answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"\S+")
_LEAD = "\"'([{"
_TRAIL = "\"')]}.,;:!?"
_CLAUSE_END = frozenset(",;:.!?")
_SENTENCE_END = frozenset(".!?")


@dataclass(frozen=True)
class Mention:
    """A candidate the text names: where it lies, its words, and its kind."""

    start: int
    end: int
    text: str
    kind: tuple[str, ...]
    """Word classes, repeats merged: ("C",) for names, ("d",) numbers, ("C", "d") "Room 4B"."""


def _class(word: str) -> str:
    core = word.lstrip(_LEAD).rstrip(_TRAIL)
    if any(ch.isdigit() for ch in core):
        return "d"
    if core[:1].isupper():
        return "C"
    return ""


def _starts_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip().rstrip(_LEAD)
    return not before or before[-1] in _SENTENCE_END


def mentions(text: str) -> list[Mention]:
    """The mentions of `text`, in order (see the module doc)."""
    words = list(_WORD.finditer(text))
    classes = [_class(w.group()) for w in words]
    marked = []
    for i, (w, cls) in enumerate(zip(words, classes, strict=True)):
        follows = i + 1 < len(words) and classes[i + 1] != "" and not _ends_clause(w.group())
        initial = cls == "C" and _starts_sentence(text, w.start())
        marked.append(bool(cls) and (not initial or follows))
    out: list[Mention] = []
    run: list[int] = []
    for i, w in enumerate(words):
        if marked[i]:
            run.append(i)
        if run and (not marked[i] or _ends_clause(w.group()) or i == len(words) - 1):
            out.append(_mention(text, words, classes, run))
            run = []
    return [m for m in out if len(m.text) > 1 or m.kind == ("d",)]


def _ends_clause(word: str) -> bool:
    core = word.rstrip("\"')]}")
    return bool(core) and core[-1] in _CLAUSE_END


def _mention(text: str, words: list[re.Match[str]], classes: list[str], run: list[int]) -> Mention:
    first, last = words[run[0]], words[run[-1]]
    start = first.start() + len(first.group()) - len(first.group().lstrip(_LEAD))
    end = last.start() + len(last.group().rstrip(_TRAIL))
    kind: list[str] = []
    for i in run:
        if not kind or kind[-1] != classes[i]:
            kind.append(classes[i])
    return Mention(start, end, text[start:end], tuple(kind))


def competing(text: str, start: int, end: int) -> tuple[str, str] | None:
    """Two competing mentions the span `text[start:end]` names (wholly or in part), or None."""
    inside = [m for m in mentions(text) if m.start < end and m.end > start]
    for i, a in enumerate(inside):
        for b in inside[i + 1 :]:
            if a.kind == b.kind and a.text.casefold() != b.text.casefold():
                return a.text, b.text
    return None


__all__ = ["Mention", "competing", "mentions"]
