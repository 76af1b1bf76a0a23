"""The grounding check: every number and name in an answer must come from a task.

A planner (or an injected instruction in the question) can write text
around the template slots — "The population of Japan is 12 ({$1})". The
slots are filled from sources of truth; the words around them are not.
This check extracts every number and capitalised name from the final text
and requires each to match a value or evidence field of a supporting
outcome (numbers after rounding to the precision shown, names after case
and accent folding). Names that appear in the question are allowed — the
answer may repeat what was asked about — numbers are not: a number in the
question is a claim to verify, not evidence.

Words are checked too. A small planner writes fluent nonsense around correct
values ("2009 is a special kind of town", "the Padlocks are larger than the
Wrenches, but …"), and each such word is a claim no task established. Every
lower-case word must be an English function word or appear (by stem) in the
question, the tools' own descriptions or the outcomes; anything else fails
the check, and the assembler falls back to a neutral sentence built from the
plan alone.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from veritask.embedding import default_embedder, embed
from veritask.embedding.lexical import stem
from veritask.types import Outcome

_NUMBER = re.compile(r"(?<![\w.])[-−]?\d[\d,]*(?:\.\d+)?(?![\w])")
_NAME = re.compile(r"\b[A-Z][\w'’\-]*(?:\s+(?:of|and|the|de|du|la|le|da)?\s*[A-Z][\w'’\-]*)*")
_SENTENCE_START = re.compile(r"(^|[.!?:]\s+)([A-Z][\w'’\-]*)")
_HARMLESS = frozenset(
    "The A An It Its This That These Those There Their They I We You He She In On At Of "
    "And Or But So If Which What Who Where How Answer Both Neither".split()
)


_WORD = re.compile(r"(?<![\w'’])[a-z]+(?:['’][a-z]+)?(?![\w'’])")
FUNCTION_WORDS = frozenset(
    """
    a an the this that these those it its it's they them their there here
    is are was were be been being has have had do does did will would can could may
    of in on at to from by for with per than as into over under between about after
    before since until within and or nor each every both either all any some many much
    more most less fewer least few other same such one only also what which who whom
    whose where when how total together altogether combined sum result value answer
    difference
    take takes took make makes made
    """.split()
)
"""Words an answer may use without a source: articles, pronouns, auxiliaries,
prepositions and the words of arithmetic. Negations ("not", "no", "never"),
contrasts ("but") and every content word must come from the question, the
tools' descriptions or the results."""


@dataclass(frozen=True)
class Grounding:
    """What the check found: the tokens it could not trace to any outcome."""

    numbers: list[str]
    names: list[str]
    words: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.numbers and not self.names and not self.words

    def problems(self) -> list[str]:
        out = [f"the number {n} is not in any task's result" for n in self.numbers]
        out += [f"the name {n!r} is not in any task's result" for n in self.names]
        out += [
            f"the word {w!r} is neither in the question nor in any task's result"
            for w in self.words
        ]
        return out


def fold(text: str) -> str:
    """Lower case without accents, for comparing names."""
    nfkd = unicodedata.normalize("NFKD", text)
    return "".join(c for c in nfkd if not unicodedata.combining(c)).lower()


def _walk(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _walk(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _walk(v)
    else:
        yield value


def facts(outcomes: Iterable[Outcome]) -> tuple[list[float], str]:
    """Every number and all the text in the outcomes' values and evidence."""
    numbers: list[float] = []
    texts: list[str] = []
    for o in outcomes:
        items = [o.value, *(e.model_dump() for e in o.evidence)]
        for leaf in _walk(items):
            if isinstance(leaf, bool) or leaf is None:
                continue
            if isinstance(leaf, int | float):
                numbers.append(float(leaf))
            elif isinstance(leaf, str):
                texts.append(leaf)
                numbers.extend(_parse_number(m.group()) for m in _NUMBER.finditer(leaf))
    return numbers, fold(" \n ".join(texts))


def _parse_number(token: str) -> float:
    return float(token.replace(",", "").replace("−", "-"))


def _matches(token: str, known: list[float]) -> bool:
    value = _parse_number(token)
    decimals = len(token.split(".")[1]) if "." in token else 0
    # Rounded to the precision shown, or within 0.5% (figures shown with fewer digits).
    # A whole number shown for a small value is not a rounding: "2" does not state 1.6.
    slack = 0.5 * 10 ** (-decimals) + 1e-9
    return any(
        (abs(value - f) <= slack and (decimals or abs(f) >= 10 or value == f))
        or (f != 0 and abs(value - f) <= 0.005 * abs(f))
        for f in known
        if math.isfinite(f)
    )


def _names(text: str) -> list[str]:
    starts = {m.start(2) for m in _SENTENCE_START.finditer(text)}
    out = []
    for m in _NAME.finditer(text):
        name = m.group().strip()
        if m.start() in starts and " " not in name:
            continue  # a capitalised first word of a sentence is not a name
        words = [w for w in name.split() if w not in _HARMLESS]
        if words:
            out.append(" ".join(words))
    return out


def _listed(name: str) -> list[str]:
    """'Sri Lanka and Dominica' names two places; 'Bosnia and Herzegovina' one — check
    the whole first, then each part."""
    parts = [p.strip() for p in name.split(" and ") if p.strip()]
    return [name] if len(parts) < 2 else parts


def _mentioned(name: str, text: str) -> bool:
    """`name` appears in `text` as whole words ("Dominica" is not in "Dominican")."""
    return re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", text) is not None


def check(
    text: str, outcomes: Iterable[Outcome], question: str = "", *, words: bool = False
) -> Grounding:
    """Trace every number and name in `text` to the outcomes (names also to `question`,
    which may carry other allowed text; numbers never come from it). With `words`, every
    lower-case word too: for a sentence written around slots, whose words are all the
    planner's, not for free text that quotes its sources (a deep agent's)."""
    known_numbers, known_text = facts(outcomes)
    allowed_text = known_text + " \n " + fold(question)
    bad_numbers = [
        m.group() for m in _NUMBER.finditer(text) if not _matches(m.group(), known_numbers)
    ]
    bad_names = [
        part
        for n in _names(text)
        for part in _listed(n)
        if not _mentioned(fold(part), allowed_text)
    ]
    loose = _unsupported_words(text, allowed_text) if words else []
    return Grounding(bad_numbers, bad_names, loose)


def _unsupported_words(text: str, allowed_text: str) -> list[str]:
    """Lower-case words of `text` that are no function word and whose stem the allowed
    text never uses ("special", "but", "not" in an answer to a look-up)."""
    spaced = re.sub(r"[_.]", " ", allowed_text)  # "daily_passengers", "llm.extract"
    plain_words = set(_WORD.findall(spaced))
    known = {stem(w) for w in plain_words} | plain_words
    out: list[str] = []
    for word in _WORD.findall(text):
        plain = word.replace("’", "'")
        if plain in FUNCTION_WORDS or plain in known or stem(plain) in known:
            continue
        if plain not in out:
            out.append(plain)
    return _far_in_meaning(out, plain_words) if out else out


WORD_MIN_SIMILARITY = 0.75
"""A word at least this close in meaning to an allowed word passes: an inflection the
stemmer misses ("written" for the question's "wrote", 0.89) or the catalog's own
synonym ("cost" for "price", 0.73, stays out); "special" or "town" beside a station's
fields (0.2–0.45) do not."""


def _far_in_meaning(words: list[str], known: set[str]) -> list[str]:
    """The words no allowed word comes close to by meaning (all of them without an
    embedder: then only spelling counts)."""
    if default_embedder() is None:
        return words
    allowed = sorted(w for w in known if len(w) > 2)
    if not allowed:
        return words
    similarity = embed(words) @ embed(allowed).T
    return [
        w
        for w, row in zip(words, similarity, strict=True)
        if float(row.max()) < WORD_MIN_SIMILARITY
    ]
