"""The planner's prompt: goal, tool catalog, a few example plans, the question.

Examples are given as earlier chat turns (question → plan), which small
instruction-tuned models imitate far more faithfully than a description of
the format.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from veritask.errors import PlanProblem
from veritask.models.base import Message, assistant, system, user
from veritask.tools.registry import ToolRegistry, ToolSpec

_SYSTEM = """You write plans. A plan is a numbered list of tool calls, then one Answer line.
Each step calls one tool with quoted arguments. "$2" means the result of step 2 and
"$2.population" one field of it. calc does arithmetic. The Answer line puts results in
{$N} or {$N.field} slots. Use only names that appear in the question.

Tools:
{catalog}{notes}"""


_EXAMPLE_CLAUSE = re.compile(
    r"\s*\((?:e\.g|i\.e)\.[^)]*\)|,\s*(?:e\.g|i\.e)\.[^,.]*(?:\.[^,.\s][^,.]*)*", re.I
)
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)\.(?:\s|$)", re.I)


def summary(spec: ToolSpec) -> str:
    """The first sentence of a tool's description, without what the prompt says anyway.

    Every token of the catalogue is read by every planner call, so the line
    drops an "e.g." clause and, when the line lists the tool's fields, a list
    of those fields after a colon ("Facts about a country: capital,
    population, …" is "Facts about a country"): the Fields list says it.
    """
    whole = _SENTENCE_END.split(spec.description.strip(), maxsplit=1)[0].strip().rstrip(".")
    first = _EXAMPLE_CLAUSE.sub("", whole).strip().rstrip(".") or whole
    head, colon, listed = first.rpartition(": ")
    if colon and spec.output_fields:
        items = [w.strip(" ,.").lower() for w in listed.split(",")]
        if sum(w in spec.output_fields for w in items) * 2 >= len(items):
            return head.strip()
    return first


def tool_line(spec: ToolSpec) -> str:
    params = ", ".join(spec.param_names)
    line = f"- {spec.name}({params}): {summary(spec)}"
    if spec.output_fields:
        line += f". Fields: {', '.join(sorted(spec.output_fields))}"
    return line


def catalog(registry: ToolRegistry) -> str:
    return "\n".join(tool_line(spec) for spec in sorted(registry, key=lambda s: s.name))


def plan_messages(
    question: str,
    registry: ToolRegistry,
    examples: Sequence[tuple[str, str]],
    notes: Sequence[str] = (),
) -> list[Message]:
    """Chat messages asking for a plan for `question`; `examples` are (question, steps) pairs,
    `notes` the active toolkits' notes for the prompt."""
    text = "\n\nNotes:\n" + "\n".join(f"- {n}" for n in notes) if notes else ""
    prompt = _SYSTEM.replace("{catalog}", catalog(registry)).replace("{notes}", text)
    messages: list[Message] = [system(prompt)]
    for ex_question, ex_steps in examples:
        messages.append(user(ex_question))
        messages.append(assistant(ex_steps))
    messages.append(user(question))
    return messages


def repair_messages(
    messages: Sequence[Message], attempt_text: str, problems: Sequence[PlanProblem | str]
) -> list[Message]:
    """Messages that show the model its rejected plan and every problem with it."""
    listed = "\n".join(f"- {p}" for p in problems)
    return [
        *messages,
        assistant(attempt_text),
        user(f"That plan has problems:\n{listed}\nWrite a corrected plan."),
    ]
