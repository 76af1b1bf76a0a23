"""The static baseline: a fixed workflow, no planning and no agent loop.

1. find the entities: spans of the question (`question_spans`) that a tool
   of the active toolkits resolves — each tool taking one text argument is
   tried in catalog order; the longest spans that resolve win and spans
   inside them are dropped;
2. look up everything about each (the tool's facts record);
3. one model call answers from those facts as JSON.

It is the "retrieve, then ask the model" pipeline many systems ship. It
computes nothing (no calc, no distance): arithmetic and comparison are
left to the model, which is exactly the weakness a plan of tool calls
removes. Lookups are logged as tasks s1, s2... so `show` lists them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from veritask.errors import BudgetExceeded, ModelError
from veritask.models.base import Message, assistant, system, user
from veritask.pipeline.modes._common import (
    MODEL_KIND,
    ToolCalls,
    answer_confidence,
    model_failed,
    note_budget,
    parse_value,
)
from veritask.planner.question_text import question_spans
from veritask.types import NO_CONFIDENCE, Answer, AnswerStatus, Claim, Outcome

if TYPE_CHECKING:
    from veritask.pipeline.orchestrator import Orchestrator
    from veritask.runtime.eventlog import EventLog


def entity_tools(orch: Orchestrator) -> list[tuple[str, str]]:
    """(tool, argument) of the active tools that look up one named thing, in catalog order:
    exactly one required parameter, a text one. Tried in this order for each span."""
    from veritask.tools.registry import kind_of

    out = []
    for spec in orch.catalog.planned_tools():
        required = spec.required_params
        if len(required) != 1 or spec.declared_only:
            continue
        annotation = spec.params_model.model_fields[required[0]].annotation
        if kind_of(annotation) == "text":
            out.append((spec.name, required[0]))
    return out


@dataclass(frozen=True)
class StaticSettings:
    max_lookups: int = 30
    """Tool calls spent finding entities at most (a long name has many sub-spans)."""
    max_facts_chars: int = 3000
    max_tokens: int = 80
    temperature: float = 0.0


SYSTEM = (
    "You answer questions using only the facts given as JSON. "
    "Reply with one line that starts with 'Answer: ' and is one short sentence."
)

EXAMPLE_FACTS: dict[str, Any] = {
    "X": {"name": "X", "size": 5314336, "colour": "red"},
    "Y": {"name": "Y", "size": 5797446, "colour": "blue"},
}
EXAMPLE = (
    "Which has the larger size, X or Y?",
    "Answer: Y has the larger size (5797446) than X (5314336).",
)
"""A worked turn with placeholder things: it shows the format and favours no domain."""

GRAMMAR = 'root ::= "Answer: " [^\\n]{1,200}\n'
"""One answer line: keeps a small model from rambling past the sentence asked for."""


@dataclass(frozen=True)
class Entity:
    span: str
    outcome: Outcome


async def run_static(
    question: str,
    orch: Orchestrator,
    log: EventLog,
    settings: StaticSettings | None = None,
) -> Answer:
    """Answer `question` by the fixed find → look up → ask workflow."""
    s = settings or StaticSettings()
    calls = ToolCalls(orch, log, prefix="s")
    try:
        try:
            entities = await find_entities(question, calls, s.max_lookups)
        except BudgetExceeded as exc:
            gap = note_budget(log, exc)
            return _abstain(f"the budget ran out while finding entities: {gap}")
        if not entities:
            return _abstain("no name in the question is something the tools know")
        facts = {e.span: e.outcome.value for e in entities}
        try:
            completion = await orch.router.acomplete(
                MODEL_KIND,
                answer_messages(question, facts, s.max_facts_chars),
                grammar=GRAMMAR,
                max_tokens=s.max_tokens,
                temperature=s.temperature,
                logprobs=True,
            )
        except BudgetExceeded as exc:
            return _abstain(note_budget(log, exc))
        except ModelError as exc:
            return model_failed(exc)
    finally:
        await calls.aclose()
    text = _answer_line(completion.text)
    if not text:
        return _abstain("the model wrote no answer")
    return Answer(
        text=text,
        value=parse_value(text),
        status=AnswerStatus.ANSWERED,
        confidence=answer_confidence(completion, text),
        claims=[Claim(text=text, task_ids=[e.outcome.task_id for e in entities])],
    )


async def find_entities(question: str, calls: ToolCalls, max_lookups: int) -> list[Entity]:
    """The longest question spans a geo tool resolves, in question order."""
    spans = question_spans(question, lower_case=False)
    order = sorted(range(len(spans)), key=lambda i: -len(spans[i].split()))
    found: dict[int, Entity] = {}
    tools = entity_tools(calls.orch)
    for i in order:
        span = spans[i]
        if any(_inside(span, e.span) for e in found.values()):
            continue
        for tool, arg in tools:
            if len(calls.outcomes) >= max_lookups:
                return [found[k] for k in sorted(found)]
            outcome = await calls.call(tool, {arg: span})
            if outcome.ok:
                found[i] = Entity(span, outcome)
                break
    return [found[k] for k in sorted(found)]


def _inside(small: str, big: str) -> bool:
    """True when `small` is a whole-word part of `big`."""
    return re.search(rf"(?<!\w){re.escape(small)}(?!\w)", big) is not None


def answer_messages(question: str, facts: dict[str, Any], limit: int) -> list[Message]:
    """The one prompt: the facts as JSON, the question, one short sentence asked for."""
    return [
        system(SYSTEM),
        user(_prompt(EXAMPLE[0], EXAMPLE_FACTS, limit)),
        assistant(EXAMPLE[1]),
        user(_prompt(question, facts, limit)),
    ]


def _prompt(question: str, facts: dict[str, Any], limit: int) -> str:
    text = json.dumps(facts, ensure_ascii=False, default=repr)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"Facts: {text}\nQuestion: {question}\nAnswer with one short sentence."


def _answer_line(text: str) -> str:
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return line.removeprefix("Answer:").strip()


def _abstain(reason: str) -> Answer:
    return Answer(
        text=f"I could not answer ({reason}), so I will not guess.",
        status=AnswerStatus.ABSTAINED,
        confidence=NO_CONFIDENCE,
        gaps=[reason],
    )


__all__ = [
    "Entity",
    "StaticSettings",
    "answer_messages",
    "entity_tools",
    "find_entities",
    "run_static",
]
