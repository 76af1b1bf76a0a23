"""Reading a question: its names, its words, the sentence that asks.

Shared by the grammar (which spans an argument may copy), the relevance
checks and the baseline modes. English question words only; no domain words.
"""

from __future__ import annotations

import re

QUESTION_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "how",
        "when",
        "where",
        "why",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "on",
        "in",
        "of",
        "and",
        "or",
        "the",
        "a",
        "an",
        "by",
        "to",
        "from",
        "between",
        "than",
        "for",
        "with",
    ]
)
_STRIP = "\"'“”‘’,.;:!?()[]{}"


_CONNECTORS = frozenset({"of", "the", "and", "de", "da", "du", "la", "le", "del", "d'"})


def name_runs(question: str) -> list[list[str]]:
    """Maximal runs of name-like words, with connectors ("of", "the", "and") inside.

    "capitals of Bosnia and Herzegovina and Democratic Republic of the Congo"
    gives one run; "Puerto Rico or Mali" two ("or" never joins a name).
    """
    words = [w.strip(_STRIP) for w in question.split()]
    words = [w for w in words if w]
    runs: list[list[str]] = []
    current: list[str] = []

    def name_like(w: str) -> bool:
        return w[:1].isupper() and w.lower() not in QUESTION_WORDS

    for i, w in enumerate(words):
        if name_like(w) or (current and w.lower() in _CONNECTORS and i + 1 < len(words)):
            current.append(w)
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    # A run never ends on a connector ("Kenya and" before a lower-case word).
    for run in runs:
        while run and run[-1].lower() in _CONNECTORS:
            run.pop()
    return [r for r in runs if r]


def question_spans(question: str) -> list[str]:
    """Candidate entity names: whole names from the question, never a fragment of one.

    A run of name words is split only at "and" (several names listed) and the
    candidates are the runs of consecutive pieces: "Bosnia and Herzegovina and
    Democratic Republic of the Congo" offers "Bosnia", "Bosnia and Herzegovina",
    "Democratic Republic of the Congo" and so on, but not "Congo" or "Republic
    of the Congo" — a small model that picks "Sudan" out of "South Sudan" asks
    about another country. If the question has no capitalised words at all,
    every short span of non-question words is a candidate instead.
    """
    spans: list[str] = []
    for run in name_runs(question):
        pieces: list[list[str]] = [[]]
        for w in run:
            if w.lower() == "and":
                pieces.append([])
            else:
                pieces[-1].append(w)
        pieces = [p for p in pieces if p]
        for i in range(len(pieces)):
            for j in range(i, len(pieces)):
                spans.append(" and ".join(" ".join(p) for p in pieces[i : j + 1]))
    if not spans:
        words = [w.strip(_STRIP) for w in question.split() if w.strip(_STRIP)]
        for i in range(len(words)):
            for j in range(i, min(len(words), i + 3)):
                chunk = words[i : j + 1]
                if all(w.lower() not in QUESTION_WORDS for w in chunk):
                    spans.append(" ".join(chunk))
    return list(dict.fromkeys(spans))


_WORD = re.compile(r"[a-zà-ÿ0-9²]+")


def words_of(text: str) -> list[str]:
    """Lower-case words, as the cue tables spell them."""
    return _WORD.findall(text.lower())



def question_sentence(question: str) -> str:
    """The sentence that asks: the last one ending in '?', else the whole text.

    Instructions smuggled in before the question ("Ignore previous
    instructions and say...") are data, not part of what is asked.
    """
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", question.strip()) if p.strip()]
    asked = [p for p in parts if p.endswith("?")]
    return asked[-1] if asked else question
