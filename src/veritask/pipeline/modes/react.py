"""The ReAct format of the single-agent baseline: prompt, per-turn grammar, parsing.

Each model turn is one Thought and then either one Action or the Final
Answer, the classic ReAct loop as LangChain's tool-calling agents run it.
A GBNF grammar built per turn makes every turn parse, the same help the
orchestrated planner gets: an Action names a registered tool, its text
arguments are spans of the question or strings seen in an observation, its
number arguments are numbers seen so far (or short constants). The final
answer is free text: the baseline has no grounding check by design.
"""

from __future__ import annotations

import ast
import json
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from veritask.models.base import Message, assistant, system, user
from veritask.planner.prompt import catalog
from veritask.planner.question_text import QUESTION_WORDS, question_spans
from veritask.tools.registry import ToolRegistry, ToolSpec

MAX_THOUGHT_CHARS = 160
MAX_ANSWER_CHARS = 200
MAX_OBSERVED = 60
"""Observed strings and numbers offered as arguments (most recent first)."""
_MAX_OBSERVED_STRING = 60
_EXPRESSION_PARAMS = frozenset({"expression"})

SYSTEM = """You answer questions by calling tools, one step at a time.
Each turn write one line "Thought: ..." (what you need next), then EITHER
one line "Action: tool("argument", ...)" to call a tool, OR, once the
observations answer the question, "Final Answer: ..." with just the answer
(a number or a name). After an Action you get "Observation: ..." with the
tool's result as JSON, or an error to work around. Use calc for arithmetic,
copying numbers exactly from the observations. Never call the same tool with
the same arguments twice.

Tools:
{catalog}"""

EXAMPLE: tuple[tuple[str, str], ...] = (
    (
        "Question: What is the total size of X and Y together?",
        'Thought: I need the size of X.\nAction: lookup("X")',
    ),
    (
        'Observation: {"name": "X", "size": 5314336, "colour": "red"}',
        'Thought: Now I need the size of Y.\nAction: lookup("Y")',
    ),
    (
        'Observation: {"name": "Y", "size": 5797446, "colour": "blue"}',
        'Thought: I add the two sizes.\nAction: calc("5314336 + 5797446")',
    ),
    (
        "Observation: 11111782",
        "Thought: The sum answers the question.\nFinal Answer: 11111782",
    ),
)
"""A worked episode, given as earlier chat turns (small models imitate turns best). Its
tool `lookup` and things X, Y are placeholders: the example shows the loop, not a domain,
and the per-turn grammar only lets the model call the real tools."""


def messages_for(question: str, registry: ToolRegistry, *, example: bool = True) -> list[Message]:
    """The conversation before the first turn: instructions, the worked example, the question."""
    out: list[Message] = [system(SYSTEM.replace("{catalog}", catalog(registry)))]
    if example:
        for said, answered in EXAMPLE:
            out.append(user(said))
            out.append(assistant(answered))
    out.append(user(f"Question: {question}"))
    return out


def observation_text(value: Any, limit: int) -> str:
    """A tool's value as compact JSON, cut to `limit` characters."""
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- what an argument may be -----------------------------------------------------


def observed_values(values: Iterable[Any]) -> tuple[list[str], list[str]]:
    """(strings, numbers) that appear in observed tool values, most recent first.

    Strings with quotes, backslashes or newlines are left out: they could
    not be written back as a simple quoted argument anyway.
    """
    strings: list[str] = []
    numbers: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, int | float):
            numbers.append(json.dumps(v))
        elif isinstance(v, str):
            if 0 < len(v) <= _MAX_OBSERVED_STRING and not set(v) & set('"\\\n'):
                strings.append(v)
        elif isinstance(v, dict):
            for item in v.values():
                walk(item)
        elif isinstance(v, list | tuple):
            for item in v:
                walk(item)

    for value in reversed(list(values)):
        walk(value)
    strings = list(dict.fromkeys(strings))[:MAX_OBSERVED]
    numbers = list(dict.fromkeys(n for n in numbers if n not in ("Infinity", "-Infinity", "NaN")))
    return strings, numbers[:MAX_OBSERVED]


_CLAUSE = re.compile(r"[\"'“”‘’()\[\]{}:;,.!?]")


def hint_names(message: str) -> list[str]:
    """Capitalised names in an error message, clause by clause ("Burkina Faso")."""
    names: list[str] = []
    for clause in _CLAUSE.split(message.removeprefix("Error: ")):
        # question_spans falls back to every lowercase span when there is no name: skip those.
        if any(w[:1].isupper() and w.lower() not in QUESTION_WORDS for w in clause.split()):
            names.extend(question_spans(clause))
    return list(dict.fromkeys(names))


def _param_kind(spec: ToolSpec, name: str) -> str:
    """`expr` (arithmetic), `num` (a number) or `str` (a name or other text)."""
    if name in _EXPRESSION_PARAMS:
        return "expr"
    annotation = spec.params_model.model_fields[name].annotation
    args = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    kinds = {a for a in args if a is not type(None)}
    if kinds and all(a in (int, float) for a in kinds):
        return "num"
    return "str"


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _lit(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _alts(options: Sequence[str]) -> str:
    return " | ".join(_lit(o) for o in options)


def _call_rule(spec: ToolSpec) -> str:
    """`name(` positional arguments `)`; trailing optional arguments may be left out."""
    body = ""
    required = set(spec.required_params)
    for i, name in reversed(list(enumerate(spec.param_names))):
        arg = {"expr": '"\\"" expr "\\""', "num": "num", "str": "sarg"}[_param_kind(spec, name)]
        piece = ('", " ' if i else "") + arg
        body = f"{piece} {body}".strip() if name in required else f"({piece} {body})?".strip()
    return f'{_lit(spec.name + "(")} {body} ")"'.replace("  ", " ")


def turn_grammar(
    question: str,
    registry: ToolRegistry,
    observed: Iterable[Any] = (),
    errors: Iterable[str] = (),
) -> str:
    """The GBNF grammar of one turn, given the values and error messages observed so far.

    Names in an error message count as observed too ("... is the capital of
    Burkina Faso: use country_by_capital"), so the agent can act on a hint
    the way an unconstrained agent would.
    """
    spans = question_spans(question, lower_case=False)
    strings, numbers = observed_values(observed)
    hinted = [name for message in errors for name in hint_names(message)]
    entities = list(dict.fromkeys([*spans, *strings, *hinted[:MAX_OBSERVED]])) or ["?"]
    question_numbers = re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", question)
    known_numbers = list(dict.fromkeys([*numbers, *question_numbers]))
    num = '"-"? [0-9] [0-9]? [0-9]? ("." [0-9] [0-9]?)?'
    if known_numbers:
        num = f"{_alts(known_numbers)} | {num}"
    calls = " | ".join(_call_rule(s) for s in sorted(registry, key=lambda s: s.name))
    calls = calls or '"none()"'
    rules = [
        'root ::= "Thought: " thought "\\n" (action | final)',
        f"thought ::= [^\\n]{{1,{MAX_THOUGHT_CHARS}}}",
        'action ::= "Action: " call',
        f'final ::= "Final Answer: " [^\\n]{{1,{MAX_ANSWER_CHARS}}}',
        f"call ::= {calls}",
        f"ent ::= {_alts(entities)}",
        'sarg ::= "\\"" ent "\\""',
        f"num ::= {num}",
        'op ::= " + " | " - " | " * " | " / "',
        'term ::= num | "(" expr ")"',
        "expr ::= term (op term)*",
    ]
    return "\n".join(rules) + "\n"


# -- reading a turn ----------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One parsed model turn: an action, a final answer, or neither (`problem` says why)."""

    thought: str = ""
    tool: str | None = None
    args: dict[str, Any] | None = None
    final: str | None = None
    final_span: tuple[int, int] | None = None
    """Where the final answer sits in the turn's text (its tokens give the confidence)."""
    problem: str | None = None

    @property
    def call_key(self) -> str:
        """Identity of the call, for loop detection."""
        return f"{self.tool}{json.dumps(self.args, sort_keys=True, default=repr)}"

    @property
    def call_text(self) -> str:
        args = ", ".join(json.dumps(v, ensure_ascii=False) for v in (self.args or {}).values())
        return f"{self.tool}({args})"


_ACTION = re.compile(r"^\s*Action\s*:\s*([A-Za-z_][\w.\-]*)\s*\((.*)\)\s*$", re.MULTILINE)
_FINAL = re.compile(r"^\s*Final Answer\s*:\s*(.*)$", re.MULTILINE)
_THOUGHT = re.compile(r"^\s*Thought\s*:\s*(.*)$", re.MULTILINE)
FORMAT_HINT = (
    'Write "Thought: ..." and then either Action: tool("argument", ...) '
    'or "Final Answer: ..." on its own line.'
)


def parse_turn(text: str, registry: ToolRegistry) -> Turn:
    """Read a turn; whichever of Action or Final Answer comes first wins."""
    thought_m = _THOUGHT.search(text)
    thought = thought_m.group(1).strip() if thought_m else ""
    action = _ACTION.search(text)
    final = _FINAL.search(text)
    if final and (action is None or final.start() < action.start()):
        raw_answer = final.group(1)
        answer = raw_answer.strip()
        if not answer:
            return Turn(thought, problem="the Final Answer is empty. " + FORMAT_HINT)
        start = final.start(1) + len(raw_answer) - len(raw_answer.lstrip())
        return Turn(thought, final=answer, final_span=(start, start + len(answer)))
    if action is None:
        return Turn(thought, problem="no Action and no Final Answer. " + FORMAT_HINT)
    tool, raw = action.group(1), action.group(2)
    try:
        values = ast.literal_eval(f"[{raw}]")
    except (ValueError, SyntaxError):
        return Turn(thought, problem=f"cannot read the arguments ({raw!r}). " + FORMAT_HINT)
    if tool not in registry:
        known = ", ".join(sorted(registry.names()))
        return Turn(thought, problem=f"unknown tool {tool!r}; use one of: {known}")
    names = registry.get(tool).param_names
    if len(values) > len(names):
        return Turn(
            thought,
            problem=f"{tool} takes at most {len(names)} argument(s) ({', '.join(names)}), "
            f"got {len(values)}",
        )
    return Turn(thought, tool=tool, args=dict(zip(names, values, strict=False)))


__all__ = [
    "EXAMPLE",
    "FORMAT_HINT",
    "SYSTEM",
    "Turn",
    "messages_for",
    "observation_text",
    "observed_values",
    "parse_turn",
    "turn_grammar",
]
