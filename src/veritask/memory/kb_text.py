"""Text helpers of the knowledge-base reader: sentences, question words, instruction-like text.

Why apart from `kb_answer` and `kb_reader`: both need the same notion of a
sentence and of a question's content words, and neither should import the
other's internals. Nothing here knows a domain: the rules are about English
prose and the plain-text formats `veritask ingest` reads (hard-wrapped lines,
heading underlines, list items).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from veritask.embedding.lexical import tokens
from veritask.memory.kb import Passage
from veritask.tools.questions import EXTRA_STOP, question_terms

MAX_ANSWER_WORDS = 40
"""A sentence longer than this is cut to its densest window of question words."""
_BLOCK_BREAK = re.compile(
    r"\n[ \t]*(?:\n|[=\-~^\"'`*+#:.]{3,}[ \t]*(?=\n|$))"  # blank line; heading underline
    r"|\n(?=[ \t]*(?:[*\-+•][ \t]|\d{1,3}[.)][ \t]))"  # a list item starts
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*(?=\s)")
_UNDERLINE = re.compile(r"[=\-~^\"'`*+#:.]{3,}")
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.]{0,40}\b(instruction|prompt|rule|above|previous)"
    r"|\byou are (now )?(an? )?(ai|assistant|language model|chatbot)\b"
    r"|\b(system prompt|jailbreak)\b"
    r"|\b(as an ai|assistant must|the model must|answer with|respond with|reply with|"
    r"always answer|always respond)\b",
    re.IGNORECASE,
)


def is_instruction(text: str) -> bool:
    """True when ``text`` reads like an instruction to an AI (a prompt injection)."""
    return bool(_INSTRUCTION.search(text))


def sentences(passage: Passage) -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``passage.text`` (offsets relative to the text).

    A sentence ends at ``.``, ``!`` or ``?`` followed by a space, at a blank
    line, at a heading underline or where a list item starts — not at a
    single line break, since hard-wrapped text (most plain-text and
    reStructuredText documents) breaks lines mid-sentence.
    """
    text = passage.text
    out = []
    pos = 0
    for block_end in [m.start() for m in _BLOCK_BREAK.finditer(text)] + [len(text)]:
        block_start, pos = pos, _next_block(text, block_end)
        if _UNDERLINE.fullmatch(text[block_end:pos].strip()):
            continue  # a heading (the line above an underline) names a topic, states nothing
        cuts = [m.end() for m in _SENTENCE_END.finditer(text, block_start, block_end)]
        start = block_start
        for end in [*cuts, block_end]:
            s, e = start, end
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            if e - s > 1 and not _UNDERLINE.fullmatch(text[s:e]):
                out.append((s, e))
            start = end
    return out


def _next_block(text: str, at: int) -> int:
    """Where the block after the break at ``at`` starts (past the break's own text)."""
    m = _BLOCK_BREAK.match(text, at)
    return m.end() if m else at


def novel(terms: Sequence[str], text: str) -> bool:
    """True when ``text`` says something beyond the question: a content word it does not ask.

    A heading or sentence made only of the question's own words ("Boolean
    operations" for "What do Boolean operations return?") restates the
    question; it cannot be its answer.
    """
    asked = set(terms)
    return any(t not in asked and t not in EXTRA_STOP for t in question_terms(text))


def coverage(terms: Sequence[str], text: str) -> float:
    """Share of ``terms`` that occur in ``text`` (0 when there are no terms)."""
    if not terms:
        return 0.0
    have = set(tokens(text))
    return sum(1 for t in terms if t in have) / len(terms)


def window(text: str, s: int, e: int, terms: Sequence[str], limit: int) -> tuple[int, int]:
    """The densest run of at most ``limit`` words of ``text[s:e]`` (by question words)."""
    words = [(m.start() + s, m.end() + s) for m in re.finditer(r"\S+", text[s:e])]
    if len(words) <= limit:
        return s, e
    wanted = set(terms)
    hits = [1 if set(tokens(text[a:b])) & wanted else 0 for a, b in words]
    best, best_i = -1, 0
    for i in range(len(words) - limit + 1):
        n = sum(hits[i : i + limit])
        if n >= best:
            # Ties go to the later window, which starts at the first question word: the
            # answer usually follows the words that echo the question.
            best, best_i = n, i
    return words[best_i][0], words[best_i + limit - 1][1]


def word_count(text: str) -> int:
    """Whitespace-separated words in ``text``."""
    return len(text.split())


__all__ = [
    "MAX_ANSWER_WORDS",
    "coverage",
    "is_instruction",
    "novel",
    "question_terms",
    "sentences",
    "window",
    "word_count",
]
