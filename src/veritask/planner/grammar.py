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
import re
from collections.abc import Iterable

from veritask.tools.registry import ToolRegistry, ToolSpec

MAX_STEPS = 5
MAX_SPAN_WORDS = 6

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
_EXPRESSION_PARAMS = frozenset({"expression"})
"""Parameters whose value is arithmetic over earlier steps, not an entity name."""


def question_spans(question: str, max_words: int = MAX_SPAN_WORDS) -> list[str]:
    """Candidate entity names: word spans of the question that look like proper names.

    A span must start and end with a capitalised word that is not a question
    word ("Democratic Republic of the Congo", "Sri Lanka"). If the question
    has no capitalised words at all, every short span of non-question words
    is a candidate instead.
    """
    words = [w.strip(_STRIP) for w in question.split()]
    words = [w for w in words if w]
    spans: list[str] = []

    def name_like(w: str) -> bool:
        return w[:1].isupper() and w.lower() not in QUESTION_WORDS

    for i in range(len(words)):
        if not name_like(words[i]):
            continue
        for j in range(i, min(len(words), i + max_words)):
            if name_like(words[j]):
                spans.append(" ".join(words[i : j + 1]))
    if not spans:
        for i in range(len(words)):
            for j in range(i, min(len(words), i + 3)):
                chunk = words[i : j + 1]
                if all(w.lower() not in QUESTION_WORDS for w in chunk):
                    spans.append(" ".join(chunk))
    return list(dict.fromkeys(spans))


def _lit(text: str) -> str:
    """A GBNF string literal."""
    return json.dumps(text, ensure_ascii=False)


def _alts(options: Iterable[str]) -> str:
    return " | ".join(_lit(o) for o in options)


def _step_digits(upto: int) -> str:
    return f"[1-{upto}]" if upto > 1 else '"1"'


def _field_rule(registry: ToolRegistry) -> str:
    fields: set[str] = set()
    for spec in registry:
        fields |= set(spec.output_fields or ())
    return _alts(sorted(fields)) if fields else '"value"'


def _call_rule(spec: ToolSpec, k: int) -> str:
    """One tool call at step k: positional args, trailing optional args may be left out."""
    parts: list[tuple[str, bool]] = []
    required = set(spec.required_params)
    names = spec.param_names
    for i, name in enumerate(names):
        arg = f'"\\"" expr{k} "\\""' if name in _EXPRESSION_PARAMS else f"sarg{k}"
        sep = '", " ' if i else ""
        parts.append((sep + arg, name in required))
    body = ""
    # Build from the right so each optional argument nests its followers.
    for piece, is_required in reversed(parts):
        body = f"{piece} {body}".strip() if is_required else f"({piece} {body})?".strip()
    return f'{_lit(spec.name + "(")} {body} ")"'


def build_grammar(question: str, registry: ToolRegistry, max_steps: int = MAX_STEPS) -> str:
    """The GBNF grammar for plans answering `question` with the tools in `registry`."""
    spans = question_spans(question) or ["?"]
    rules = [
        "root ::= step1",
        f"ent ::= {_alts(spans)}",
        f"field ::= {_field_rule(registry)}",
        'num ::= [0-9]+ ("." [0-9]+)?',
        'op ::= " + " | " - " | " * " | " / "',
        "text ::= [^\\n{}]*",
    ]
    for k in range(1, max_steps + 1):
        calls = " | ".join(_call_rule(spec, k) for spec in sorted(registry, key=lambda s: s.name))
        nxt = f'"{k + 1}. " call{k + 1} "\\n" more{k + 1}' if k < max_steps else None
        rules.append(f'step{k} ::= "{k}. " call{k} "\\n" more{k}' if k == 1 else "")
        rules.append(f"more{k} ::= answer{k}" + (f" | {nxt}" if nxt else ""))
        rules.append(f"call{k} ::= {calls}")
        if k == 1:
            rules.append('sarg1 ::= "\\"" ent "\\""')
            rules.append("expr1 ::= num (op num)*")
        else:
            ref = f'"$" {_step_digits(k - 1)}'
            rules.append(f'ref{k} ::= {ref} ("." field)?')
            rules.append(f'sarg{k} ::= "\\"" (ent | {ref} "." field) "\\""')
            rules.append(f'term{k} ::= ref{k} | num | "(" expr{k} ")" | "abs(" expr{k} ")"')
            rules.append(f"expr{k} ::= term{k} (op term{k})*")
        slot = f'"{{$" {_step_digits(k)} ("." field)? "}}"'
        rules.append(f'answer{k} ::= "Answer: " text ({slot} text)+ "\\n"')
    return "\n".join(r for r in rules if r) + "\n"


_SLOT = re.compile(r"\{\$(\d+)")


def answer_refs_ok(text: str, steps: int) -> bool:
    """True when every `{$k}` slot in an answer line names an existing step."""
    return all(1 <= int(n) <= steps for n in _SLOT.findall(text))
