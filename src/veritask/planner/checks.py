"""The checks a valid plan must still pass before it runs: does it answer the question?

Each returns sentences the repair loop feeds back to the model. They hold
for any toolkit: what a question asks for comes from `relevance.Relevance`,
and an argument's provenance from the question itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from veritask.embedding.lexical import stem
from veritask.plan.refs import find_refs, template_refs
from veritask.planner.catalog import Catalog
from veritask.planner.grammar import chosen_tools, entity_spans
from veritask.planner.question_text import (
    asks_unsigned_difference,
    compared_names,
    name_runs,
    question_numbers,
    question_sentence,
    spelled_in,
    words_of,
)
from veritask.planner.relevance import Asked, PlanFeatures, Relevance, plan_features
from veritask.tools.registry import ToolRegistry
from veritask.types import Plan

UNCOVERED = "which none of the tools provides"
"""How a problem about words no tool covers ends (callers tell such refusals apart)."""


def relevance_problems(
    question: str, plan: Plan, relevance: Relevance, asked: Asked | None = None
) -> list[str]:
    """Sentences naming where `plan` does not answer `question`; empty when it does."""
    asked = asked or relevance.asked(question)
    registry = relevance.catalog.registry
    features = plan_features(plan)
    problems = _whole_record_slots(plan, registry)
    for tid in features.constant_calcs:
        problems.append(
            f"step {tid} computes with constants only; numbers must come from a tool's result"
        )
    readers = _reader_tools(plan, registry)
    in_words = _answered_in_words(plan, readers)
    problems += _fields_not_asked(features, asked, relevance, readers)
    problems += _operations(features, asked, in_words)
    problems += _answer_type(plan, features, asked, relevance, in_words)
    problems += argument_problems(question, plan, registry)
    problems += unused_numbers(question, plan)
    problems += self_operations(plan)
    problems += direction_problems(question, plan)
    problems += comparison_labels(plan)
    problems += _unnamed_tools(plan, asked, registry)
    names = _names_used(question, features.entity_words)
    uncovered = relevance.uncovered(question, names)
    if uncovered:
        problems.append(uncovered_problem(uncovered))
    return problems


def uncovered_problem(words: Sequence[str]) -> str:
    listed = ", ".join(repr(w) for w in words)
    return f"the question asks about {listed}, {UNCOVERED}"


def offered_names(question: str, catalog: Catalog, asked: Asked) -> list[str]:
    """Every text argument the question's grammar lets a plan's look-ups take: its
    spans, the fixed choices (enum values) of the tools offered, and the whole
    question when one of them reads it (a `Question` parameter, filled with the
    question as asked).

    This assumes the samples follow the grammar, as the embedded model and
    llama.cpp servers make them; a server that ignores it could let a plan
    look up any text written in the question."""
    tools = chosen_tools(catalog, asked)
    enums = [
        str(v) for spec in tools for name in spec.param_names for v in spec.param_enum(name) or ()
    ]
    whole = [question] if any(spec.question_params for spec in tools) else []
    return [*entity_spans(question, catalog), *enums, *whole]


def uncovered_by_every_plan(
    question: str, relevance: Relevance, offered: Iterable[str]
) -> list[str]:
    """Words of the question no tool covers that no plan can name either: with
    `offered` every argument the question's grammar lets a look-up take, each
    sample would be refused for them (`relevance_problems`), so the planner
    refuses before drawing any.

    A plan escapes the refusal only by looking a word up as a name, and its
    names are a subset of `offered`; `uncovered` can only shrink as names grow.
    """
    words = frozenset(w for name in offered for w in words_of(name))
    return relevance.uncovered(question, _names_used(question, words))


def _whole_record_slots(plan: Plan, registry: ToolRegistry) -> list[str]:
    """An answer slot must name one field of a record, not paste the whole record."""
    if not plan.answer_template:
        return []
    tools = {t.id: t.tool for t in plan.tasks}
    out = []
    slots = [str(ref) for ref in template_refs(plan.answer_template)]
    for slot in sorted({s for s in slots if slots.count(s) > 1}):
        out.append(f"the answer states {{{slot}}} more than once; state each value once")
    for ref in template_refs(plan.answer_template):
        tool = tools.get(ref.task_id)
        if ref.path or tool is None or tool not in registry:
            continue
        fields = registry.get(tool).output_fields
        if fields:
            out.append(
                f"the answer slot {{${ref.task_id}}} is a whole {tool} record; "
                f"name one field, like {{${ref.task_id}.{sorted(fields)[0]}}}"
            )
    return out


def _reader_tools(plan: Plan, registry: ToolRegistry) -> frozenset[str]:
    """The plan's tools that read a `Question` and answer it in words (a KB answerer)."""
    return frozenset(t.tool for t in plan.tasks if registry.reads_question(t.tool))


def _answered_in_words(plan: Plan, readers: frozenset[str]) -> bool:
    """Whether every answer slot is a reader's result: the answer is prose quoted by a
    tool that was given the question, so "how many" or "a sum" in the question is for
    that prose to state, not for the plan to compute."""
    if not readers or not plan.answer_template:
        return False
    tool_of = {t.id: t.tool for t in plan.tasks}
    slots = [tool_of.get(ref.task_id) for ref in template_refs(plan.answer_template)]
    return bool(slots) and all(tool in readers for tool in slots)


def _fields_not_asked(
    features: PlanFeatures, asked: Asked, relevance: Relevance, readers: frozenset[str]
) -> list[str]:
    """Fields the answer states that the question does not ask for. A reader's fields are
    exempt: it was given the question, and its answer is whatever the question asked."""
    out = []
    for key in dict.fromkeys(features.slot_keys):
        if key.split(".")[0] in readers:
            continue
        if key in asked.targets and asked.slots and key not in asked.slots and "." in key:
            field = key.split(".")[-1]
            owners = sorted(k.split(".")[0] for k in asked.slots if k.split(".")[-1] == field)
            if owners:  # the same field of another tool: the tool is what is wrong
                out.append(
                    f"the answer states {field!r} of {key.split('.')[0]}, but the question "
                    f"asks for the {field!r} of {' or '.join(owners)}; look it up there"
                )
                continue
            best = ", ".join(sorted(k.split(".")[-1] for k in asked.slots))
            out.append(
                f"the answer states {key.split('.')[-1]!r}, but the question asks most "
                f"for {best}; state that (or compute it)"
            )
    for key in sorted(features.fields):
        if key in asked.targets or key.split(".")[0] in readers:
            continue
        tool, _, field = key.partition(".")
        if not field and any(k.startswith(f"{tool}.") for k in asked.targets):
            continue  # a whole record feeding another tool: its fields are what was asked
        wanted = [k for k in asked.targets if k.split(".")[-1] != field] or [
            k for k, _ in asked.ranked[:2]
        ]
        hint = f" (the question seems to ask for {', '.join(sorted(wanted)[:3])})" if wanted else ""
        what = f"field {field!r} of {tool}" if field else f"the value of {tool}"
        out.append(f"the plan uses {what}, which the question does not ask for{hint}")
    return out


def _operations(features: PlanFeatures, asked: Asked, in_words: bool) -> list[str]:
    out = []
    computed_by_tool = any(k in asked.computed_by for k in features.fields)
    for op, name in (("+", "adds"), ("/", "divides"), ("-", "subtracts"), ("*", "multiplies")):
        if op in features.operators and op not in asked.operators:
            out.append(f"the plan {name} values, but the question does not ask for that")
    for op, name in (("+", "a sum"), ("/", "a ratio"), ("-", "a difference")):
        if computed_by_tool or in_words:
            break  # a tool computes it ("how far apart": distance_km subtracts nothing)
        if op in asked.required and op not in features.operators and not asked.compares:
            if op == "-" and "/" in features.operators:
                continue
            if op == "+" and "*" in features.operators:
                continue  # "the total weight of 6 Buckets": a sum of six, by multiplying
            out.append(f"the question asks for {name}, but the plan never computes it")
    return out


def _answer_type(
    plan: Plan, features: PlanFeatures, asked: Asked, relevance: Relevance, in_words: bool
) -> list[str]:
    if in_words:
        return []  # a quoted answer states its number or comparison in its own words
    out = []
    compares = features.tools & {"larger", "smaller"}
    if asked.compares is not None:
        if not compares:
            out.append(
                "the question asks which of the named things has more or less; "
                "answer with larger(...) or smaller(...) over the two values"
            )
        elif asked.compares == "more" and "smaller" in compares:
            out.append("the question asks which has more; use larger, not smaller")
        elif asked.compares == "less" and "larger" in compares:
            out.append("the question asks which has less; use smaller, not larger")
    elif compares:
        out.append("the plan compares two things, but the question does not ask which is more")
    if asked.times and "/" not in features.operators:
        out.append("the question asks 'how many times': divide one value by the other with calc")
    if asked.count and not asked.compares:
        kinds = _slot_kinds(plan, relevance)
        if kinds and all(k not in ("number", "list") for k in kinds):
            out.append(
                "the question asks how many or how much, but the answer states no number; "
                "answer with a numeric field or a calc result"
            )
    return out


def _slot_kinds(plan: Plan, relevance: Relevance) -> list[str]:
    registry = relevance.catalog.registry
    tool_of = {t.id: t.tool for t in plan.tasks}
    kinds = []
    for ref in template_refs(plan.answer_template or ""):
        tool = tool_of.get(ref.task_id)
        if tool is None or tool not in registry:
            continue
        spec = registry.get(tool)
        if tool == "calc":
            kinds.append("number")
        elif ref.path:
            kinds.append(spec.output_kinds.get(ref.path[0], "other"))
        else:
            kinds.append(spec.result_kind)
    return kinds


def argument_problems(question: str, plan: Plan, registry: ToolRegistry) -> list[str]:
    """String arguments must come from the question, an enum or an earlier step; numbers
    from the question or an earlier step. Anything else is the model's invention."""
    numbers = {float(n) for n in question_numbers(question)}
    out = []
    for task in plan.tasks:
        for name, value in task.args.items():
            if task.tool == "calc" and isinstance(value, str):
                out += _calc_constants(task.id, value, numbers)
                continue
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, int | float):
                if float(value) not in numbers:
                    out.append(
                        f"step {task.id}: the number {value:g} for {name!r} is not in the "
                        "question; take numbers from the question or an earlier step"
                    )
                continue
            if not isinstance(value, str) or any(True for _ in find_refs(value)):
                continue
            if _enum_value(registry, task.tool, name, value):
                continue
            if not spelled_in(value, question):
                out.append(
                    f"step {task.id}: {value!r} is not written in the question; "
                    "use names exactly as the question gives them"
                )
    return out


def _unnamed_tools(plan: Plan, asked: Asked, registry: ToolRegistry) -> list[str]:
    """A tool the question names by its own words must be the one used, not another
    tool that shares its fields."""
    if not asked.tools or (asked.owner is not None and asked.owner not in asked.tools):
        return []  # a field only one tool returns decides the tool (see grammar.chosen_tools)
    covered = {f for t in asked.tools if t in registry for f in registry.get(t).output_fields or ()}
    out = []
    for task in plan.tasks:
        if task.tool in asked.tools or task.tool not in registry:
            continue
        if set(registry.get(task.tool).output_fields or ()) & covered:
            named = ", ".join(sorted(asked.tools))
            out.append(f"step {task.id}: the question asks for {named}, not {task.tool}")
    return out


def direction_problems(question: str, plan: Plan) -> list[str]:
    """A ratio or difference must divide by (subtract) what the question compares against:
    the thing named after "than", "to" or "as". Reversed, it is a confident wrong number."""
    base = _compared_against(question, plan)
    if base is None:
        return _signed_differences(plan, asks_unsigned_difference(question))
    by_step = {t.id: t for t in plan.tasks}
    out = []
    for task in plan.tasks:
        expression = task.args.get("expression")
        if task.tool != "calc" or not isinstance(expression, str):
            continue
        for op in "/-":
            if op == "-" and "abs(" in expression:
                continue  # an absolute difference has no direction
            parts = expression.split(op)
            if len(parts) != 2:
                continue
            left = [r.task_id for r in find_refs(parts[0])]
            right = [r.task_id for r in find_refs(parts[1])]
            if base in left and base not in right and right:
                name = _entity(by_step.get(base))
                verb = "divides by" if op == "/" else "subtracts"
                out.append(
                    f"step {task.id} has {name!r} on the wrong side: the question compares "
                    f"against {name!r}, so the plan must put it after the '{op}' "
                    f"(it {verb} the other value instead)"
                )
    return out


def comparison_labels(plan: Plan) -> list[str]:
    """larger/smaller names its winner by the label beside each value. A label written
    from the question ("Thornbury", "$1") must be a name that value's own step looked up
    and the other did not — else the answer names the wrong thing, confidently."""
    by_step = {t.id: t for t in plan.tasks}
    out = []
    for task in plan.tasks:
        if task.tool not in ("larger", "smaller"):
            continue
        sides = [(task.args.get(s), task.args.get(f"{s}_value")) for s in ("first", "second")]
        steps = [_single_ref(value) for _, value in sides]
        for (label, _), mine, other in zip(sides, steps, reversed(steps), strict=True):
            if not isinstance(label, str) or "$" in label or mine is None:
                continue
            own = _literal_args(by_step.get(mine))
            theirs = _literal_args(by_step.get(other)) if other else set()
            if label not in own or label in theirs:
                looked = ", ".join(sorted(own)) or "nothing by name"
                out.append(
                    f"step {task.id} names {label!r} for the value of step {mine}, which "
                    f"looked up {looked}; name each value by the name only its step looked up"
                )
    return out


def _single_ref(value: object) -> str | None:
    refs = list(find_refs(value)) if isinstance(value, str) else []
    return refs[0].task_id if len(refs) == 1 else None


def _literal_args(task: object) -> set[str]:
    """The names a step looks up as written in the question (not references)."""
    args = getattr(task, "args", {}) or {}
    return {v for v in args.values() if isinstance(v, str) and "$" not in v}


def _signed_differences(plan: Plan, unsigned_question: bool) -> list[str]:
    """With nothing after "than" ("How many years apart did A and B open?"), a
    difference of two looked-up values has no side to subtract: `$2.x - $1.x` is -7 or
    7 by the order of the look-ups. Only `abs(…)` answers such a question. The same
    holds when the subtracted steps each look up several names ("the journey from A to
    T than from A to G"): no one name tells which step is the "than" side."""
    by_step = {t.id: t for t in plan.tasks}
    out = []
    for task in plan.tasks:
        expression = task.args.get("expression")
        if task.tool != "calc" or not isinstance(expression, str) or "abs(" in expression:
            continue
        steps = {r.task_id for r in find_refs(expression)}
        paired = any(len(_literal_args(by_step.get(s))) > 1 for s in steps)
        if "-" in expression and len(steps) >= 2 and (unsigned_question or paired):
            out.append(
                f"step {task.id} subtracts in the order of the look-ups, but the question "
                "names no side to subtract; write abs(…) around the difference"
            )
    return out


def _compared_against(question: str, plan: Plan) -> str | None:
    """The look-up step whose name the question puts after than/to/as, if exactly one."""
    names = {t.id: _entity(t) for t in plan.tasks}
    found = [tid for tid, name in names.items() if name and compared_names(question, [name])]
    return found[0] if len(found) == 1 else None


def _entity(task: object) -> str:
    args = getattr(task, "args", {}) or {}
    texts = [v for v in args.values() if isinstance(v, str) and "$" not in v]
    return texts[0] if len(texts) == 1 else ""


def self_operations(plan: Plan) -> list[str]:
    """`$1.population / $1.population` is 1 and `$1.x - $1.x` is 0 whatever the data:
    a calculation of a value with itself answers nothing."""
    out = []
    for task in plan.tasks:
        expression = task.args.get("expression")
        if task.tool != "calc" or not isinstance(expression, str):
            continue
        refs = [str(r) for r in find_refs(expression)]
        if len(refs) >= 2 and len(set(refs)) == 1 and re.search(r"[-/]", expression):
            out.append(
                f"step {task.id} computes {refs[0]} with itself; use the two different "
                "values the question names"
            )
        elif len(refs) != len(set(refs)):
            again = sorted({r for r in refs if refs.count(r) > 1})
            out.append(
                f"step {task.id} uses {', '.join(again)} more than once (a repeated look-up?); "
                "use each looked-up value once"
            )
    return out


def unused_numbers(question: str, plan: Plan) -> list[str]:
    """A number the question gives ("What do 5 Padlocks cost?") must be used by the plan;
    answering with the price of one is answering another question."""
    used = " ".join(
        str(v) for task in plan.tasks for v in task.args.values() if not isinstance(v, bool)
    )
    in_names = " ".join(" ".join(run) for run in name_runs(question_sentence(question)))
    out = []
    for number in question_numbers(question):
        if re.search(rf"(?<![\w.]){re.escape(number)}(?![\w.])", in_names):
            continue  # part of a name ("Route 66")
        if not re.search(rf"(?<![\w.]){re.escape(number)}(?![\w])", used):
            out.append(
                f"the question gives the number {number}, which the plan never uses; "
                "compute with it (e.g. calc)"
            )
    return out + _counts_not_multiplied(question, plan)


def _counts_not_multiplied(question: str, plan: Plan) -> list[str]:
    """A number right before a thing the plan looks up counts that thing ("the total
    weight of 6 Buckets"): its value is multiplied by the number, never added to it."""
    looked_up = {
        v.casefold()
        for task in plan.tasks
        if task.tool != "calc"
        for v in task.args.values()
        if isinstance(v, str) and "$" not in v
    }
    sentence = question_sentence(question)
    expressions = [str(v) for task in plan.tasks if task.tool == "calc" for v in task.args.values()]
    out = []
    for number in question_numbers(question):
        after = re.search(rf"(?<![\w.]){re.escape(number)}\s+(.+)", sentence)
        if after is None:
            continue
        rest = after.group(1).casefold()
        if not any(rest.startswith(name) for name in looked_up if name):
            continue
        n = re.escape(number)
        beside_times = rf"(\*\s*\(?\s*{n}(?![\w.])|(?<![\w.]){n}\s*\*)"
        if expressions and not any(re.search(beside_times, e) for e in expressions):
            out.append(
                f"the question counts {number} of a looked-up thing; multiply its value "
                f'by {number} (e.g. calc("{number} * $1.field"))'
            )
    return out


def _calc_constants(task_id: str, expression: str, numbers: set[float]) -> list[str]:
    bare = re.sub(r"\$[A-Za-z_][\w.]*", " ", expression)
    out = []
    for token in re.findall(r"(?<![\w.])\d+(?:\.\d+)?", bare):
        if float(token) not in numbers and float(token) not in (1, 2, 100):
            out.append(
                f"step {task_id}: the constant {token} is not in the question; "
                "compute only with looked-up values and the question's numbers"
            )
    return out


def _enum_value(registry: ToolRegistry, tool: str, param: str, value: str) -> bool:
    if tool not in registry:
        return False
    spec = registry.get(tool)
    if param not in spec.params_model.model_fields:
        return False
    return value in (spec.param_enum(param) or [])


def _names_used(question: str, entity_words: frozenset[str]) -> frozenset[str]:
    """Words of every name in the question that the plan looks up, even in part:
    a plan asking about "Bosnia" covers "Bosnia and Herzegovina". A name the plan
    never touches ("GDP") stays a word the tools must cover."""
    used = set(entity_words)
    looked_up = {stem(w) for w in entity_words}
    for run in name_runs(question_sentence(question)):
        words = set(words_of(" ".join(run)))
        if {stem(w) for w in words} & looked_up:  # "6 Buckets" names the Bucket looked up
            used |= words
    return frozenset(used)


__all__ = [
    "UNCOVERED",
    "argument_problems",
    "offered_names",
    "relevance_problems",
    "uncovered_by_every_plan",
    "uncovered_problem",
    "unused_numbers",
]
