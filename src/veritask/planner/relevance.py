"""Does a plan answer the question that was asked? Deterministic cross-checks.

A plan can be valid and still answer another question: the ratio where the
sum was asked, the population where the area was asked, or a population
where the question wanted a GDP no tool provides. A small planner makes
exactly these mistakes, and a valid wrong plan is the road to a confidently
wrong answer. These checks compare what the question asks for (cue words,
folded through a small synonym table) with what the plan computes, and
flag question words that nothing in the tool catalog covers. Each problem
is a sentence the planner's repair loop can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

from veritask.plan.refs import find_refs, template_refs
from veritask.planner.question_text import name_runs, question_sentence, question_spans, words_of
from veritask.tools.registry import ToolRegistry
from veritask.types import Plan


@dataclass(frozen=True)
class Concept:
    """Something a question can ask for, and the plan features that provide it."""

    name: str
    cues: tuple[str, ...]
    fields: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()


MEASURES: tuple[Concept, ...] = (
    Concept(
        "population",
        ("population", "inhabitants", "populous", "residents", "populated", "people"),
        fields=("population", "density_per_km2"),
    ),
    Concept(
        "area",
        ("area", "square", "km2", "km²", "surface", "covers", "size"),
        fields=("area_km2", "density_per_km2"),
    ),
    Concept("density", ("density", "densely"), fields=("density_per_km2",), operators=("/",)),
    Concept("distance", ("far", "distance", "apart"), tools=("distance_km",)),
    Concept(
        "currency", ("currency", "money", "currencies"), fields=("currency_name", "currency_code")
    ),
    Concept("continent", ("continent",), fields=("continent",)),
    Concept(
        "borders",
        ("border", "borders", "neighbour", "neighbours", "neighbouring", "bordering", "neighbor"),
        fields=("neighbours", "neighbour_count"),
    ),
    Concept("language", ("language", "languages", "spoken"), fields=("languages",)),
)
OPERATIONS: tuple[Concept, ...] = (
    Concept("sum", ("combined", "total", "together", "sum", "altogether"), operators=("+",)),
    Concept("ratio", ("times", "ratio"), operators=("/",)),
    Concept("difference", ("differ", "differs", "difference"), operators=("-",)),
    Concept("comparison", ("more", "larger", "bigger", "greater", "higher"), tools=("larger",)),
)

_GENERIC = frozenset(
    """what which who whom whose how when where why is are was were be been do does did
    the a an of in on at to by for with from into than that this these those and or not
    many much per its it their there has have had live lives living city cities country
    countries capital capitals place places kilometre kilometres kilometer kilometers km
    miles number count share shares name named called whose largest smallest same each
    other one two between apart far use used uses official home lie lies located situated
    belong belongs part side both either please tell me give answer find state land""".split()
)
def vocabulary(registry: ToolRegistry) -> frozenset[str]:
    """Every word the tool catalog can speak to: names, descriptions, fields, cues."""
    words: set[str] = set(_GENERIC)
    for spec in registry:
        words.update(words_of(spec.name.replace("_", " ")))
        words.update(words_of(spec.description))
        for text in spec.param_descriptions.values():
            words.update(words_of(text))
        for f in spec.output_fields or ():
            words.update(words_of(f.replace("_", " ")))
    for concept in (*MEASURES, *OPERATIONS):
        words.update(concept.cues)
    return frozenset(words)


@dataclass(frozen=True)
class PlanFeatures:
    fields: frozenset[str]
    tools: frozenset[str]
    operators: frozenset[str]
    entity_words: frozenset[str]
    constant_calcs: tuple[str, ...]


def plan_features(plan: Plan) -> PlanFeatures:
    fields: set[str] = set()
    operators: set[str] = set()
    entity_words: set[str] = set()
    constant_calcs: list[str] = []
    for task in plan.tasks:
        for ref in find_refs(task.args):
            fields.update(ref.path[:1])
        for value in task.args.values():
            if not isinstance(value, str):
                continue
            if task.tool == "calc":
                operators.update(op for op in "+-*/" if op in value.replace("$", " "))
                if not any(True for _ in find_refs(value)):
                    constant_calcs.append(task.id)
            elif "$" not in value:
                entity_words.update(words_of(value))
    if plan.answer_template:
        for ref in template_refs(plan.answer_template):
            fields.update(ref.path[:1])
    return PlanFeatures(
        frozenset(fields),
        frozenset(t.tool for t in plan.tasks),
        frozenset(operators),
        frozenset(entity_words),
        tuple(constant_calcs),
    )


def _provides(concept: Concept, f: PlanFeatures) -> bool:
    if set(concept.fields) & f.fields or set(concept.tools) & f.tools:
        return True
    if concept.name == "density":
        # Density may also be computed: population divided by area.
        return {"population", "area_km2"} <= f.fields and "/" in f.operators
    return bool(set(concept.operators) & f.operators)


def _asks_which_of_two(asked: str, words: list[str]) -> bool:
    """'Which has more X, A or B?' — a comparison, unless a ratio or difference is asked."""
    other_ops = any(w in c.cues for c in OPERATIONS if c.name != "comparison" for w in words)
    compares = any(w in OPERATIONS[-1].cues for w in words)
    return compares and " or " in f" {asked.lower()} " and not other_ops


def relevance_problems(question: str, plan: Plan, registry: ToolRegistry) -> list[str]:
    """Sentences naming where `plan` does not answer `question`; empty when it does."""
    asked = question_sentence(question)
    words = words_of(asked)
    features = plan_features(plan)
    problems: list[str] = _whole_record_slots(plan, registry)
    for tid in features.constant_calcs:
        problems.append(
            f"step {tid} computes with constants only; numbers must come from a tool's result"
        )
    for concept in MEASURES + OPERATIONS:
        cue = next((w for w in words if w in concept.cues), None)
        if concept.name == "comparison" and not _asks_which_of_two(asked, words):
            cue = None
        if cue is not None and not _provides(concept, features):
            problems.append(
                f"the question asks about {concept.name} ({cue!r}) but the plan never uses it"
            )
    if "larger" in features.tools and not _asks_which_of_two(asked, words):
        problems.append("the plan compares two things, but the question does not ask which is more")
    cued_ops = {op for c in OPERATIONS if any(w in c.cues for w in words) for op in c.operators}
    if any(w in ("density", "densely", "per") for w in words):
        cued_ops.add("/")
    for op, name in (("+", "adds"), ("/", "divides"), ("-", "subtracts")):
        if op in features.operators and op not in cued_ops:
            problems.append(f"the plan {name} values, but the question does not ask for that")
    problems.extend(uncovered(asked, registry, _names_used(asked, features.entity_words)))
    return problems


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
            example = "population" if "population" in fields else sorted(fields)[0]
            out.append(
                f"the answer slot {{${ref.task_id}}} is a whole {tool} record; "
                f"name one field, like {{${ref.task_id}.{example}}}"
            )
    return out


def _names_used(question: str, entity_words: frozenset[str]) -> frozenset[str]:
    """Words of every name in the question that the plan looks up, even in part:
    a plan asking about "Bosnia" covers "Bosnia and Herzegovina". A name the plan
    never touches ("GDP") stays a word the tools must cover."""
    used = set(entity_words)
    for run in name_runs(question):
        words = set(words_of(" ".join(run)))
        if words & entity_words:
            used |= words
    return frozenset(used)


def uncovered(question: str, registry: ToolRegistry, names: frozenset[str]) -> list[str]:
    """A problem when the question uses words no tool speaks to (names excepted)."""
    known = vocabulary(registry) | names
    words = words_of(question_sentence(question))
    unknown = [w for w in words if w not in known and not w.isdigit() and len(w) > 1]
    if not unknown:
        return []
    listed = ", ".join(repr(w) for w in dict.fromkeys(unknown))
    return [f"the question asks about {listed}, which none of the tools provides"]


def out_of_scope(question: str, registry: ToolRegistry) -> list[str]:
    """Before planning: words no tool covers, counting every name-like span as a name.

    A question about something no tool provides ("the lost city of ...",
    "rainfall") cannot be answered by any plan, so no model call is spent on it.
    """
    names = frozenset(w for span in question_spans(question) for w in words_of(span))
    return uncovered(question, registry, names)
