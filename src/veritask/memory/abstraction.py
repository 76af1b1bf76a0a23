"""Entity abstraction: turn "combined population of France and Spain" into "... of X and Y".

Episodic memory shows a small planner model past plans as examples. If an
example still says ``country_facts("France")``, a small model asked about
Germany copies "France" into its new plan. So before a plan is remembered,
every entity it shares with its question is replaced by a placeholder in both
(``country_facts("X")``), and the memory is searched on the abstract question,
where the structure words ("combined population", "distance between") drive
the match instead of names.

What counts as an entity: a string argument of the plan (anywhere in a task's
args, nested lists and dicts included) whose whole text, stripped, is a
literal span of the question at word boundaries, compared case-insensitively
("Sri Lanka", "democratic republic of the congo"). Strings containing a task
reference (``"$t1.population + $t2.population"``) are never entities, and the
references inside any string are never rewritten. Strings with no letter or
shorter than two characters are ignored, so "3" or "a" never become entities.
A caveat: a tool whose argument repeats a structure word of the question
(a field name such as "population") would see that word abstracted too; the
builtin tools take only entities and expressions.

Placeholders: ``X, Y, Z, W, V, U, T, S, ...`` (capital letters, read as
variables by any model, never a real place), assigned in the order the
entities first appear in the question, so the abstract question reads
"of X and Y". "A" and "I" are never used (they read as English words); a
letter already present as a word in the question or the plan is skipped, so
abstraction never collides with text that was there; after the letters come
``X1, X2, ...``. Each distinct entity (case-insensitively) gets one placeholder
everywhere: question, goal, descriptions, arguments and the answer template.

Round trip: ``concretise(abstract(q, p)[1], mapping) == p`` whenever the plan
spells each entity one way (the mapping keeps the spelling of the plan's
first argument that names it); a plan that writes "France" in one place and
"FRANCE" in another comes back with one spelling.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from veritask.plan.refs import REF_PATTERN
from veritask.types import Plan

_LETTERS = "XYZWVUTSRQPONMLKJHGFEDCB"
_HAS_LETTER = re.compile(r"[^\W\d_]")


def abstract(question: str, plan: Plan) -> tuple[str, Plan, dict[str, str]]:
    """Replace the entities shared by `question` and `plan` with placeholders.

    Returns the abstract question, the abstract plan and the mapping
    placeholder → entity (in placeholder order) that `concretise` inverts.
    With no shared entity, the question and plan come back unchanged and the
    mapping is empty.
    """
    entities = _entities(question, plan)
    if not entities:
        return question, plan, {}
    taken = _words_in([question, *_planstrings_in(plan)])
    placeholders = _placeholders(len(entities), taken)
    mapping = dict(zip(placeholders, entities, strict=True))
    pattern = _entity_pattern(entities)

    def swap(text: str) -> str:
        return _outside_refs(
            text, lambda s: pattern.sub(lambda m: placeholders[_group_index(m)], s)
        )

    return swap(question), _map_plan(plan, swap), mapping


def concretise(plan: Plan, mapping: Mapping[str, str]) -> Plan:
    """Put the entities of `mapping` (placeholder → entity) back into `plan`.

    Only whole-word placeholders outside task references are replaced, in one
    pass, so an entity that itself contains a placeholder letter is safe.
    """
    if not mapping:
        return plan
    pattern = _alternation(list(mapping))

    def swap(text: str) -> str:
        return _outside_refs(text, lambda s: pattern.sub(lambda m: mapping[m[0]], s))

    return _map_plan(plan, swap)


def map_text(plan: Plan, change: Callable[[str], str]) -> Plan:
    """`plan` with `change` applied to its text outside task references.

    Goal, descriptions, string arguments (nested too) and the answer template;
    a ``$t1.field`` reference is never passed to `change`. For substitutions
    that `concretise` does not cover (numbers, in `veritask.memory.recall`).
    """
    return _map_plan(plan, lambda text: _outside_refs(text, change))


def _entities(question: str, plan: Plan) -> list[str]:
    """Distinct entities (plan spelling), ordered by first appearance in `question`."""
    found: dict[str, str] = {}
    for text in _argstrings_in(plan):
        candidate = text.strip()
        key = candidate.casefold()
        if key in found or not _is_candidate(candidate):
            continue
        if _alternation([candidate], flags=re.IGNORECASE).search(question):
            found[key] = candidate
    if not found:
        return []
    # Order by where each first appears; an entity only ever seen inside a
    # longer one ("Congo" in "Democratic Republic of the Congo") comes last.
    entities = list(found.values())
    order: dict[int, None] = {}
    for m in _entity_pattern(entities).finditer(question):
        order.setdefault(_group_index(m), None)
    ranked = list(order) + [i for i in range(len(entities)) if i not in order]
    return [entities[i] for i in ranked]


def _entity_pattern(entities: list[str]) -> re.Pattern[str]:
    """Any of `entities` as a whole word, case-insensitively, longest first.

    Group `e<i>` is entity `i`, so a match says which entity it is without
    comparing case-folded text (which Unicode does not always agree on).
    """
    ordered = sorted(range(len(entities)), key=lambda i: (-len(entities[i]), i))
    body = "|".join(f"(?P<e{i}>{re.escape(entities[i])})" for i in ordered)
    return re.compile(rf"(?<![\w$])(?:{body})(?!\w)", re.IGNORECASE)


def _group_index(match: re.Match[str]) -> int:
    return int((match.lastgroup or "e0")[1:])


def _is_candidate(text: str) -> bool:
    return len(text) >= 2 and bool(_HAS_LETTER.search(text)) and not REF_PATTERN.search(text)


def _alternation(words: Iterable[str], flags: int = 0) -> re.Pattern[str]:
    """One regex matching any of `words` as a whole word, longest first."""
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    body = "|".join(re.escape(w) for w in ordered)
    return re.compile(rf"(?<![\w$])(?:{body})(?!\w)", flags)


def _placeholders(n: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    candidates = iter(_LETTERS)
    counter = 0
    while len(out) < n:
        name = next(candidates, None)
        if name is None:
            counter += 1
            name = f"X{counter}"
        if name not in taken:
            out.append(name)
    return out


def _words_in(texts: Iterable[str]) -> set[str]:
    """Every word outside task references, case-sensitively (placeholders must be fresh)."""
    words: set[str] = set()
    for text in texts:
        words.update(re.findall(r"\w+", REF_PATTERN.sub(" ", text)))
    return words


def _outside_refs(text: str, change: Callable[[str], str]) -> str:
    """Apply `change` to the parts of `text` that are not task references."""
    out: list[str] = []
    last = 0
    for m in REF_PATTERN.finditer(text):
        out.append(change(text[last : m.start()]))
        out.append(m[0])
        last = m.end()
    out.append(change(text[last:]))
    return "".join(out)


def _argstrings_in(plan: Plan) -> Iterator[str]:
    for task in plan.tasks:
        yield from strings_in(task.args)


def _planstrings_in(plan: Plan) -> Iterator[str]:
    yield plan.goal
    if plan.answer_template:
        yield plan.answer_template
    for task in plan.tasks:
        yield task.description
        yield from strings_in(task.args)


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside a plan argument: nested dicts and lists too."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings_in(v)


def _map_value(value: Any, swap: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return swap(value)
    if isinstance(value, Mapping):
        return {k: _map_value(v, swap) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_map_value(v, swap) for v in value]
    return value


def _map_plan(plan: Plan, swap: Callable[[str], str]) -> Plan:
    """`plan` with `swap` applied to its goal, descriptions, string args and template."""
    tasks = [
        t.model_copy(
            update={
                "args": {k: _map_value(v, swap) for k, v in t.args.items()},
                "description": swap(t.description),
            }
        )
        for t in plan.tasks
    ]
    template = swap(plan.answer_template) if plan.answer_template is not None else None
    return plan.model_copy(
        update={"goal": swap(plan.goal), "tasks": tasks, "answer_template": template}
    )


__all__ = ["abstract", "concretise", "map_text", "strings_in"]
