"""Fit a new question to a remembered one of the same shape, and fill in its entities.

A remembered episode keeps its abstract question ("What do a X and a Y cost
together?") and abstract plan (``product("X")``, ``product("Y")``, ``calc``).
A new question *fits* the episode when it reads the same with other text in
the placeholders' places: "What do a Lamp and a Kettle cost together?" gives
X = "Lamp", Y = "Kettle", and the abstract plan with those put back
(`veritask.memory.abstraction.concretise`) is the new question's plan — no
model call. This module only does the matching and the filling; whether the
filled plan is *good* (validates, answers the question asked) is the
pipeline's business, with the planner's own checks.

Matching is deliberately strict, because a false fit runs a wrong plan:

* every word outside the placeholders must be the same, compared
  case-insensitively with runs of spaces and the final ``?``/``.``/``!``
  ignored; the only equivalence allowed is "a" ↔ "an" ("of a Lamp",
  "of an Oak Shelf");
* a placeholder takes at least one character, shortest first, and the whole
  question must match; a placeholder used twice must get the same text twice;
  two placeholders must get different entities (the plan was written for two
  things);
* each entity must look like one (a letter, at most 80 characters and 8
  words); the pipeline further requires it to be a name the planner itself
  could have picked from the question.

Numbers: a number of the abstract question that also appears in the plan's
arguments ("What do 3 X cost?" with ``calc("$1.price_usd * 3")``) is a slot
too, filled by any number in the same place ("What do 5 Padlocks cost?") and
replaced in the plan wherever it stands as a whole number outside task
references. A number of the question that the plan does not use must be the
same in the new question.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from veritask.memory.abstraction import abstract, concretise, map_text, strings_in
from veritask.memory.episodic import Episode
from veritask.plan.refs import REF_PATTERN
from veritask.types import Plan

MAX_ENTITY_CHARS = 80
MAX_ENTITY_WORDS = 8
_NUMBER = r"\d+(?:\.\d+)?"
NUMBER = re.compile(rf"(?<![\w.$]){_NUMBER}(?!\w|\.\d)")
"""A whole number ("3", "7.5"), not part of a word, a task id ($3) or a longer number."""
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class Fit:
    """A remembered plan filled in for a new question.

    `plan` has the new question as its goal; `entities` maps each placeholder
    to the new question's text for it, `numbers` each old number to its new
    value (both in the order they appear in the abstract question).
    """

    plan: Plan
    entities: dict[str, str]
    numbers: dict[str, str] = field(default_factory=dict)


def fit(episode: Episode, question: str) -> Fit | None:
    """`episode`'s plan for `question` when the question has the episode's shape, else None."""
    abstract_question, _, remembered = abstract(episode.question, episode.plan)
    if abstract_question != episode.abstract_question:
        return None  # stored by another version of the abstraction: do not guess
    placeholders = list(remembered)
    slots = [n for n in _distinct_numbers(abstract_question) if n in _plan_numbers(episode)]
    match = _shape_pattern(abstract_question, placeholders, slots).fullmatch(_normal(question))
    if match is None:
        return None
    entities = {p: match[f"e{i}"].strip() for i, p in enumerate(placeholders)}
    if not all(_plausible(e) for e in entities.values()):
        return None
    if len({e.casefold() for e in entities.values()}) < len(entities):
        return None
    numbers = {old: match[f"n{j}"] for j, old in enumerate(slots)}
    plan = episode.abstract_plan
    if any(old != new for old, new in numbers.items()):
        plan = map_text(plan, _number_swap(numbers))  # before the entities: a name may hold one
    plan = concretise(plan, entities)
    return Fit(plan.model_copy(update={"goal": question}), entities, numbers)


def _normal(text: str) -> str:
    return " ".join(text.split()).rstrip(" ?.!")


def _shape_pattern(
    abstract_question: str, placeholders: list[str], slots: list[str]
) -> re.Pattern[str]:
    """A regex reading `abstract_question` with a group for each placeholder and number slot."""
    text = _normal(abstract_question)
    alternatives = [
        rf"(?P<p{i}>(?<![\w$]){re.escape(p)}(?!\w))" for i, p in enumerate(placeholders)
    ]
    alternatives += [
        rf"(?P<s{j}>(?<![\w.$]){re.escape(n)}(?!\w|\.\d))" for j, n in enumerate(slots)
    ]
    if not alternatives:
        return re.compile(_literal(text), re.IGNORECASE)
    token = re.compile("|".join(alternatives))
    parts: list[str] = []
    seen: set[str] = set()
    last = 0
    for m in token.finditer(text):
        parts.append(_literal(text[last : m.start()]))
        kind, index = (m.lastgroup or "p0")[0], (m.lastgroup or "p0")[1:]
        name = f"e{index}" if kind == "p" else f"n{index}"
        body = ".+?" if kind == "p" else _NUMBER
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{body})")
        seen.add(name)
        last = m.end()
    parts.append(_literal(text[last:]))
    return re.compile("".join(parts), re.IGNORECASE)


def _literal(text: str) -> str:
    """`text` as a regex: spaces match any run of spaces, "a" and "an" match each other."""
    out = []
    for piece in re.split(r"(\s+)", text):
        if not piece:
            continue
        if piece.isspace():
            out.append(r"\s+")
        elif piece.casefold() in ("a", "an"):
            out.append("an?")
        else:
            out.append(re.escape(piece))
    return "".join(out)


def _plausible(entity: str) -> bool:
    return (
        0 < len(entity) <= MAX_ENTITY_CHARS
        and len(entity.split()) <= MAX_ENTITY_WORDS
        and bool(_LETTER.search(entity))
        and not REF_PATTERN.search(entity)
    )


def _distinct_numbers(text: str) -> list[str]:
    return list(dict.fromkeys(m[0] for m in NUMBER.finditer(text)))


def _plan_numbers(episode: Episode) -> set[str]:
    """The whole numbers written in the abstract plan's arguments, outside task references."""
    found: set[str] = set()
    for task in episode.abstract_plan.tasks:
        for text in strings_in(task.args):
            found.update(_distinct_numbers(REF_PATTERN.sub(" ", text)))
    return found


def _number_swap(numbers: dict[str, str]) -> Callable[[str], str]:
    pattern = re.compile(
        "|".join(
            rf"(?<![\w.$]){re.escape(n)}(?!\w|\.\d)" for n in sorted(numbers, key=len, reverse=True)
        )
    )

    def swap(text: str) -> str:
        return pattern.sub(lambda m: numbers[m[0]], text)

    return swap


__all__ = ["MAX_ENTITY_CHARS", "NUMBER", "Fit", "fit"]
