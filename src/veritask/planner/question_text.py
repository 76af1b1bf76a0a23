"""Reading a question: its names, its words, the sentence that asks.

Shared by the grammar (which spans an argument may copy), the relevance
checks and the baseline modes. English question words only; no domain words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

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


GENERIC_WORDS = frozenset(
    """what which who whom whose how when where why is are was were be been being do does
    did done the a an of in on at to by for with from into onto than that this these those
    and or not no nor but if then so as it its their there they them he she his her we our
    us you your i me my has have had having can could would should will shall may might
    must many much per each every other others one two both either neither between same
    please tell give find state show list answer about some any all more most less few
    get got make made take taken like just also only very really use used uses using
    called named known located situated lie lies belong belongs through across over
    under within via during
    see sees saw seen pass passes passed handle handles handled serve serves served
    go goes went come comes came need needs keep keeps add adds added up""".split()
)
"""English function words, and the light verbs that carry no concept of their own
("how many people pass through X", "how many do A and B handle"): never a concept
a tool provides, never a name. A verb that does name something ("renovated",
"closed") is not here, so a question about it is still refused."""

_QUOTED = re.compile(r"[\"“]([^\"”]{1,80})[\"”]|(?<!\w)'([^']{1,80})'(?!\w)")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w])")


def question_numbers(question: str) -> list[str]:
    """The numbers the asking sentence gives ("3", "7.5"), as they may appear in a plan.

    Only the sentence that asks: a number in an instruction smuggled in before it
    ("say the population is 12") is data, never an input to the plan.
    """
    asked = question_sentence(question)
    return list(dict.fromkeys(m.group().replace(",", "") for m in _NUMBER.finditer(asked)))


def question_spans(
    question: str, known: frozenset[str] = frozenset(), *, lower_case: bool = True
) -> list[str]:
    """Candidate entity arguments: whole names from the question, never a fragment of one.

    Three sources, in this order: runs of capitalised words, split only at
    "and" (several names listed) — "Bosnia and Herzegovina and Democratic
    Republic of the Congo" offers "Bosnia", "Bosnia and Herzegovina",
    "Democratic Republic of the Congo", but not "Congo", because a small model
    that picks "Sudan" out of "South Sudan" asks about another thing; quoted
    strings; and runs of up to three lower-case words that are neither
    function words nor in `known` (the catalog's own words), for names written
    in lower case ("a sprocket"); `lower_case=False` leaves those out unless
    the question has no other candidate.
    """
    spans = _name_spans(question)
    spans += [(m.group(1) or m.group(2)).strip() for m in _QUOTED.finditer(question)]
    words = [w for w in (w.strip(_STRIP) for w in question.split()) if w]

    def free(w: str) -> bool:
        low = w.lower()
        return bool(
            low
            and low not in QUESTION_WORDS
            and low not in GENERIC_WORDS
            and low not in known
            and not _NUMBER.fullmatch(low)
            and not w[:1].isupper()
        )

    if lower_case:
        if spans:
            # Beside capitalised names, a lower-case word after a number counts it
            # ("in 365 days", "a 7-day week"): a unit, not a name to look up. Alone, it
            # may be the name ("what do 5 sprockets cost?").
            words = [
                "" if _has_digit(w) or (i and _has_digit(words[i - 1])) else w
                for i, w in enumerate(words)
            ]
        spans += _short_spans(words, free)
    if not spans:  # nothing name-like at all: any short span of non-question words
        spans = _short_spans(words, lambda w: w.lower() not in QUESTION_WORDS)
    return list(dict.fromkeys(s for s in spans if s))


def _has_digit(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


def _name_spans(question: str) -> list[str]:
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
    return spans


def _short_spans(words: list[str], ok: Callable[[str], bool]) -> list[str]:
    """Runs of one to three consecutive words that all pass `ok`."""
    out = []
    for i in range(len(words)):
        for j in range(i, min(len(words), i + 3)):
            chunk = words[i : j + 1]
            if all(ok(w) for w in chunk):
                out.append(" ".join(chunk))
    return out


def spelled_in(value: str, question: str) -> bool:
    """Whether `value` is written in the question, as whole words, ignoring case and a
    plural "s" ("Widget" is spelled in "How many widgets…")."""
    text = " ".join(question.lower().split())
    target = " ".join(value.lower().split()).strip(_STRIP)
    if not target:
        return False
    variants = {target, target + "s", target + "es"}
    if target.endswith("es"):
        variants.add(target[:-2])
    if target.endswith("s"):
        variants.add(target[:-1])
    return any(re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text) for v in variants)


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


def without_names(sentence: str) -> str:
    """The sentence with name-like runs replaced by "X": names carry no meaning to match
    fields or example questions on ("the population of X" is like "the population of Y")."""
    text = sentence
    for run in name_runs(sentence):
        text = text.replace(" ".join(run), "X")
    return text


BASE_WORDS = ("than", "to", "as", "from")
"""Words after which a question names what it compares against ("than Saltmarsh")."""


def compared_names(question: str, names: Iterable[str]) -> list[str]:
    """The names the asking sentence puts after than/to/as/from ("How many times busier
    is A than B": B), in the order given: the divisor of a ratio, the subtrahend of a
    difference."""
    sentence = " ".join(question_sentence(question).lower().split())
    lead = rf"\b(?:{'|'.join(BASE_WORDS)})\s+(?:(?:the|a|an|that|of|those)\s+){{0,3}}"
    return [n for n in names if re.search(lead + re.escape(n.lower()) + r"s?\b", sentence)]


UNSIGNED_CUES = frozenset({"apart", "difference", "differ", "differs", "gap"})
"""Words asking how far apart two values are, with no side to subtract from."""


def asks_unsigned_difference(question: str) -> bool:
    """ "How many years apart did A and B open?", "the difference in price between A
    and B": a difference whose sign nothing in the question decides — unless it also
    says what to subtract ("the difference … than B")."""
    sentence = question_sentence(question).lower()
    if not UNSIGNED_CUES & set(words_of(sentence)):
        return False
    return re.search(rf"\b(?:{'|'.join(BASE_WORDS)})\b", sentence) is None


def choice_names(question: str, names: Iterable[str]) -> list[str]:
    """The names the question offers as a choice ("…, Thornbury or Saltmarsh?"), in the
    order given; empty when it offers none. "Farther from Fenwick Cross" names a place
    the choice is measured from, not one of the choices."""
    sentence = " ".join(question_sentence(question).split())
    found: list[str] = []
    listed = [n for n in names if n]
    for a in listed:
        for b in listed:
            if (
                a != b
                and a not in b
                and b not in a
                and re.search(
                    rf"\b{re.escape(a)}\s*,?\s+or\s+(?:the\s+)?{re.escape(b)}\b", sentence
                )
            ):
                found += [n for n in (a, b) if n not in found]
    return found
