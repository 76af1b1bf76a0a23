"""A GBNF grammar built per question, so a small model can only write sane plans.

Three mistakes a 135M-parameter planner makes are ruled out while it
decodes, not after: it cannot name an entity that is not in the question
(entity arguments are alternatives drawn from the question's own spans),
cannot refer to a step that does not exist yet (step k may only name
steps 1..k-1, the answer only existing steps), and cannot call an unknown
tool. Whatever it writes parses.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterable
from typing import Any

from veritask.planner.question_text import question_sentence, question_spans, words_of
from veritask.planner.relevance import MEASURES, OPERATIONS
from veritask.tools.registry import ToolRegistry, ToolSpec

MAX_STEPS = 5

_EXPRESSION_PARAMS = frozenset({"expression"})
"""Parameters whose value is arithmetic over earlier steps, not an entity name."""


def _lit(text: str) -> str:
    """A GBNF string literal."""
    return json.dumps(text, ensure_ascii=False)


def _alts(options: Iterable[str]) -> str:
    return " | ".join(_lit(o) for o in options)


def _step_digits(upto: int) -> str:
    return f"[1-{upto}]" if upto > 1 else '"1"'


def _output_field_types(registry: ToolRegistry) -> tuple[set[str], set[str], set[str]]:
    """(text fields, number fields, all fields) over the tools' typed outputs."""
    text: set[str] = set()
    number: set[str] = set()
    every: set[str] = set()
    for spec in registry:
        every |= set(spec.output_fields or ())
        returned = typing.get_type_hints(spec.fn).get("return")
        if returned is None or not typing.is_typeddict(returned):
            continue
        for name, hint in typing.get_type_hints(returned).items():
            kind = _kind(hint)
            if kind == "text":
                text.add(name)
            elif kind == "number":
                number.add(name)
    return text, number, every


def _kind(hint: Any) -> str:
    """'text', 'number' or 'other' for a type hint (Optional[X] counts as X)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if args and typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = args[0]
    if hint is str:
        return "text"
    if hint in (int, float):
        return "number"
    return "other"


def _param_kind(spec: ToolSpec, name: str) -> str:
    if name in _EXPRESSION_PARAMS:
        return "expr"
    return _kind(spec.params_model.model_fields[name].annotation)


def _call_rule(spec: ToolSpec, k: int) -> str:
    """One tool call at step k: positional args, trailing optional args may be left out."""
    parts: list[tuple[str, bool]] = []
    required = set(spec.required_params)
    for i, name in enumerate(spec.param_names):
        kind = _param_kind(spec, name)
        arg = {"expr": f'"\\"" expr{k} "\\""', "number": f"narg{k}"}.get(kind, f"sarg{k}")
        sep = '", " ' if i else ""
        parts.append((sep + arg, name in required))
    body = ""
    # Build from the right so each optional argument nests its followers.
    for piece, is_required in reversed(parts):
        body = f"{piece} {body}".strip() if is_required else f"({piece} {body})?".strip()
    return f'{_lit(spec.name + "(")} {body} ")"'


def _cued(question: str, numeric: set[str], every: set[str]) -> tuple[set[str], set[str]]:
    """(fields, operators) the question asks for, by the relevance cue words.

    Decoding may only use these, so the grammar already steers the planner to
    the check it must pass; with no cue, everything is allowed.
    """
    words = set(words_of(question_sentence(question)))
    fields: set[str] = set()
    for concept in MEASURES:
        if words & set(concept.cues):
            fields |= set(concept.fields)
    if words & {"density", "densely"}:
        fields |= {"population", "area_km2"}  # density may be computed
    ops = {op for c in OPERATIONS if words & set(c.cues) for op in c.operators}
    if words & {"density", "densely", "per"}:
        ops.add("/")
    fields = (fields & every) or set(every)
    return fields, ops or {"+", "-", "*", "/"}


def _choice(names: set[str]) -> str:
    return _alts(sorted(names)) if names else _lit("value")


def build_grammar(question: str, registry: ToolRegistry, max_steps: int = MAX_STEPS) -> str:
    """The GBNF grammar for plans answering `question` with the tools in `registry`."""
    spans = question_spans(question) or ["?"]
    text_fields, number_fields, every = _output_field_types(registry)
    fields, ops = _cued(question, number_fields, every)
    numeric = (number_fields & fields) or number_fields or every
    slot_fields = fields | ({"name"} & every)
    rules = [
        "root ::= step1",
        f"ent ::= {_alts(spans)}",
        f"field ::= {_choice(slot_fields)}",
        f"tfield ::= {_choice(text_fields or every)}",
        f"nfield ::= {_choice(numeric)}",
        'num ::= [0-9]+ ("." [0-9]+)?',
        f"op ::= {_alts(f' {o} ' for o in sorted(ops))}",
        "text ::= [^\\n{}]{0,120}",
    ]
    for k in range(1, max_steps + 1):
        calls = " | ".join(_call_rule(spec, k) for spec in sorted(registry, key=lambda s: s.name))
        nxt = f'"{k + 1}. " call{k + 1} "\\n" more{k + 1}' if k < max_steps else None
        rules.append(f'step{k} ::= "{k}. " call{k} "\\n" more{k}' if k == 1 else "")
        rules.append(f"more{k} ::= answer{k}" + (f" | {nxt}" if nxt else ""))
        rules.append(f"call{k} ::= {calls}")
        if k == 1:
            rules.append('sarg1 ::= "\\"" ent "\\""')
            rules.append('narg1 ::= "\\"" num "\\""')
            rules.append("expr1 ::= num (op num)*")
        else:
            ref = f'"$" {_step_digits(k - 1)}'
            rules.append(f'ref{k} ::= {ref} ("." nfield)?')
            rules.append(f'sarg{k} ::= "\\"" (ent | {ref} "." tfield) "\\""')
            rules.append(f'narg{k} ::= "\\"" (num | {ref} "." nfield) "\\""')
            rules.append(f'term{k} ::= ref{k} | num | "(" expr{k} ")" | "abs(" expr{k} ")"')
            rules.append(f"expr{k} ::= term{k} (op term{k})*")
        slot = f'"{{$" {_step_digits(k)} ("." field)? "}}"'
        rules.append(f'answer{k} ::= "Answer: " text ({slot} text){{1,3}} "\\n"')
    return "\n".join(r for r in rules if r) + "\n"
