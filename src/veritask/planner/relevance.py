"""Does a plan answer the question that was asked? Checks that work for any toolkit.

A plan can be valid and still answer another question: the ratio where the
sum was asked, a stock count where the price was asked, or a price where the
question wanted a colour no tool provides. A small planner makes exactly
these mistakes, and a valid wrong plan is the road to a confidently wrong
answer. What the question asks for is found by matching its words against
the catalog — tool and field names, descriptions, the toolkits' vocabulary —
lexically (stems) and by meaning (a small sentence-embedding model, BM25
when it is absent). The only words this module knows itself are English
function words and the words of arithmetic ("combined", "times", "difference").
Each problem is a sentence the planner's repair loop can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from veritask.embedding import default_embedder, embed
from veritask.embedding.lexical import bm25_scores, stem
from veritask.plan.refs import Ref, find_refs, template_refs
from veritask.planner.catalog import Catalog, Target
from veritask.planner.question_text import (
    GENERIC_WORDS,
    question_numbers,
    question_sentence,
    without_names,
    words_of,
)
from veritask.tools.registry import ToolSpec
from veritask.types import Plan, Task

COMPUTE_TOOLS = frozenset({"calc", "larger", "smaller"})
LABEL_PARAMS = frozenset({"first", "second"})
"""Parameters of larger/smaller that name the things compared (their values are compared)."""
"""The core tools: they compute over looked-up values and are asked for by arithmetic words."""


@dataclass(frozen=True)
class Operation:
    """A computation a question can ask for, by the English words that ask for it."""

    name: str
    cues: tuple[str, ...]
    operators: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()


OPERATIONS: tuple[Operation, ...] = (
    Operation("sum", ("combined", "total", "together", "sum", "altogether", "plus"), ("+",)),
    Operation("ratio", ("times", "ratio", "proportion"), ("/",)),
    Operation(
        "difference",
        ("differ", "differs", "difference", "minus", "exceed", "exceeds", "apart", "gap"),
        ("-",),
    ),
)
MORE_WORDS = frozenset(
    "more larger bigger greater higher longer heavier busier older most largest biggest "
    "greatest highest longest heaviest further farther later".split()
)
LESS_WORDS = frozenset(
    "less fewer smaller lower shorter lighter cheaper quieter younger least fewest "
    "smallest lowest shortest lightest cheapest quietest nearer closer earlier".split()
)
SCOPE_MIN_SCORE = 0.45
"""Below this best match by meaning, a question none of whose words the catalog
knows is refused before any model call."""
ASKED_MIN_SCORE = 0.30
"""The best-matching field counts as asked (without a word for it) from this score up."""
WORD_MIN_SCORE = 0.62
"""A single word no catalog text spells counts as covered when this close in meaning."""


def _stems(text: str) -> list[str]:
    return [stem(w) for w in words_of(text)]


@dataclass(frozen=True)
class Asked:
    """What a question asks for: targets (fields, tool values) and computations."""

    targets: frozenset[str]
    """Target keys (`tool.field` or `tool`) the question's words name or mean."""
    tools: frozenset[str]
    """Tools the question names by their own vocabulary ("whose capital" for a
    look-up by capital): they, not other tools with the same fields, answer it."""
    slots: frozenset[str]
    """The targets named most strongly: what an answer slot states directly (a density
    where "density … per square kilometre" is asked, not the "people" also named)."""
    ranked: tuple[tuple[str, float], ...]
    """Every target key with its combined score, best first."""
    operators: frozenset[str]
    """Operators a plan may use: those asked for, "*" with a number in the question,
    "/" with "per"."""
    required: frozenset[str]
    """Operators the question asks for outright (a sum, a ratio, a difference)."""
    computed_by: frozenset[str]
    """Asked tools whose own value is the computation asked for ("how far apart" is
    distance_km's value, not a subtraction): no calc step is required then."""
    compares: str | None
    """`more`, `less` or `either` for "which … A or B"; None when nothing is compared."""
    times: bool
    """"how many times": the answer is a ratio."""
    count: bool
    """"how many / how much": the answer is a number."""
    whole_owner: str | None = None
    """A tool whose whole value is what is asked ("how many minutes from A to B") when
    the question names no field of any other tool: it alone is offered then."""

    @property
    def owner(self) -> str | None:
        """The one tool that returns every field an answer may state, when there is one
        and nothing is compared: that tool alone looks the answer up."""
        if self.compares:
            return self.whole_owner  # bare values compared by the names looked up
        owners = {k.split(".")[0] for k in self.slots if "." in k}
        if len(owners) == 1 and (self.whole_owner is None or self.whole_owner in owners):
            return next(iter(owners))
        return self.whole_owner if not owners else None


class Relevance:
    """Matches questions against one catalog; built once per catalog and reused."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.targets: list[Target] = catalog.targets()

    # -- the catalog's words ------------------------------------------------------

    @cached_property
    def known_stems(self) -> frozenset[str]:
        """Stems of every word the catalog speaks: names, descriptions, vocabulary."""
        words: set[str] = set(GENERIC_WORDS)
        for spec in self.catalog.registry:
            words.update(words_of(spec.name.replace("_", " ").replace(".", " ")))
            words.update(words_of(spec.description))
            for name in spec.param_names:
                words.update(words_of(name.replace("_", " ")))
            for text in spec.param_descriptions.values():
                words.update(words_of(_unquoted(text)))
        for target in self.targets:
            for w in target.words:
                words.update(words_of(w))
        for op in OPERATIONS:
            words.update(op.cues)
        words |= MORE_WORDS | LESS_WORDS
        return frozenset(stem(w) for w in words)

    @cached_property
    def _target_vectors(self) -> object | None:
        if default_embedder() is None or not self.targets:
            return None
        return embed([t.document for t in self.targets])

    # -- what a question asks -------------------------------------------------------

    @cached_property
    def _entity_stems(self) -> frozenset[str]:
        """Stems of the tools' names: they name the kind of thing looked up ("country" in
        country_facts), so on their own they name no field ("countries that border")."""
        return frozenset(
            stem(w) for spec in self.catalog.registry for w in words_of(spec.name.replace("_", " "))
        )

    def strengths(self, question: str) -> dict[str, float]:
        """How strongly the question's words name each target: matched words, a phrase
        counting each of its words ("per square kilometre" beats "square")."""
        asked = question_sentence(question)
        q_stems = set(_stems(asked))
        q_text = " " + " ".join(_stems(asked)) + " "
        out = {}
        for t in self.targets:
            weak = _WEAK | (self._entity_stems if t.field else frozenset())
            out[t.key] = _strength(t, q_stems, q_text, weak)
        return out

    def named_tools(self, question: str) -> list[str]:
        """Tools whose own vocabulary entries the question spells (not their name words:
        "country" names no particular tool of several country tools)."""
        asked = question_sentence(question)
        q_stems = set(_stems(asked))
        q_text = " " + " ".join(_stems(asked)) + " "
        out = []
        for spec in self.catalog.planned_tools():
            words = self.catalog.vocabulary.get(spec.name, ())
            if not words or not spec.output_fields:
                continue  # a scalar tool is a target of its own already
            probe = Target(spec.name, None, "other", tuple(words), "")
            if _strength(probe, q_stems, q_text, _WEAK) > 0:
                out.append(spec.name)
        return out

    def scores(
        self, question: str, strength: dict[str, float] | None = None
    ) -> list[tuple[Target, float, bool]]:
        """(target, score by meaning, named by a word) for every target, best first.
        `strength`: `strengths(question)` when the caller has it already."""
        asked = question_sentence(question)
        strength = strength if strength is not None else self.strengths(question)
        lexical = [strength[t.key] > 0 for t in self.targets]
        vectors = self._target_vectors
        if vectors is not None:
            q = embed([without_names(asked)])[0]
            meaning = [float(v) for v in vectors @ q]  # type: ignore[operator]
        else:
            raw = bm25_scores(asked, [t.document for t in self.targets])
            top = max(raw, default=0.0) or 1.0
            meaning = [0.5 * r / top for r in raw]
        rows = [(t, m, hit) for t, m, hit in zip(self.targets, meaning, lexical, strict=True)]
        rows.sort(key=lambda r: (r[2], r[1]), reverse=True)
        return rows

    def asked(self, question: str) -> Asked:
        strength = self.strengths(question)
        rows = self.scores(question, strength)
        named = {t.key for t, _, hit in rows if hit}
        top = max((strength[k] for k in named), default=0.0)
        slots = {k for k in named if strength[k] >= top}
        if not named:
            by_meaning = sorted(rows, key=lambda r: r[1], reverse=True)
            if by_meaning and by_meaning[0][1] >= ASKED_MIN_SCORE:
                named.add(by_meaning[0][0].key)
                slots = set(named)
        named_tools = self.named_tools(question)
        slots = self._break_tie(question, slots, named_tools)
        sentence = question_sentence(question)
        words = words_of(sentence)
        ops = {o for op in OPERATIONS if set(words) & set(op.cues) for o in op.operators}
        # "How many more X than Y", "how much heavier is A than B"; but "how many times
        # busier … than" is a ratio, never a difference.
        if _asks_how_much_more(words) and not _asks_times(words):
            ops.add("-")
        if _asks_times(words):
            ops.add("/")
        required = frozenset(ops)
        cues = {w for w in words for op in OPERATIONS if w in op.cues}
        if _asks_how_much_more(words) or _asks_times(words):
            cues |= {w for w in words if w in MORE_WORDS | LESS_WORDS | {"times"}}
        computed_by = {
            t.key
            for t, _, hit in rows
            if hit
            and t.field is None
            and cues <= {w for phrase in t.words for w in words_of(phrase)}
        }
        if question_numbers(question):
            ops.add("*")  # "What do 3 Widgets cost?": a number of the question times a value
        if "per" in words:
            ops.add("/")
        return Asked(
            whole_owner=self._whole_owner(question, slots),
            tools=frozenset(named_tools),
            targets=frozenset(named),
            slots=frozenset(slots),
            ranked=tuple((t.key, s) for t, s, _ in rows),
            operators=frozenset(ops),
            required=required,
            computed_by=frozenset(computed_by),
            compares=_compares(sentence, words),
            times=_asks_times(words),
            count=_asks_count(words),
        )

    def _break_tie(self, question: str, slots: set[str], named_tools: list[str]) -> set[str]:
        """Equally named fields of several tools ("opened" of a station and of a line):
        keep those of a tool the question names by its vocabulary ("the Harbour line"),
        else those of tools its names can be looked up with — a tool whose parameter is
        a fixed choice the question spells none of cannot look up "Wexley"."""
        owners = {k.split(".")[0] for k in slots}
        if len(owners) < 2:
            return slots
        named = {k for k in slots if k.split(".")[0] in named_tools}
        if named:
            return named
        registry = self.catalog.registry
        callable_ = {
            k
            for k in slots
            if k.split(".")[0] not in registry
            or not _needs_unspelled_choice(registry.get(k.split(".")[0]), question)
        }
        return callable_ or slots

    def _whole_owner(self, question: str, slots: set[str]) -> str | None:
        """The tool whose whole value is asked, when it is the only slot and no word of
        the question is a field name of another tool ("the capitals of …" needs a
        country look-up before a distance)."""
        if len(slots) != 1 or "." in next(iter(slots)):
            return None
        (tool,) = slots
        q_stems = set(_stems(question_sentence(question)))
        for spec in self.catalog.planned_tools():
            if spec.name == tool:
                continue
            for name in spec.output_fields or ():
                if name in ("name", "id"):
                    continue
                if {stem(w) for w in words_of(name.replace("_", " "))} <= q_stems:
                    return None
        return tool

    def uncovered(self, question: str, names: frozenset[str]) -> list[str]:
        """Content words of the question no tool speaks to, names excepted."""
        out = []
        for w in words_of(question_sentence(question)):
            if w in names or w.isdigit() or len(w) < 2 or stem(w) in self.known_stems:
                continue
            out.append(w)
        out = list(dict.fromkeys(out))
        if out and self._target_vectors is not None:
            vectors = embed(out)
            best = (vectors @ self._target_vectors.T).max(axis=1)  # type: ignore[attr-defined]
            out = [w for w, s in zip(out, best, strict=True) if float(s) < WORD_MIN_SCORE]
        return out

    def out_of_scope(self, question: str, spans: list[str]) -> list[str]:
        """Before planning: a problem when nothing in the question is anything a tool provides.

        Refuses only when no content word of the question is a word of the
        catalog *and* no field or tool comes close by meaning: a question about
        something no tool covers ("the GDP of France" to a geography catalog,
        "the colour of the Gadget" to a shop) costs no model call.
        """
        sentence = question_sentence(question)
        # An acronym on its own ("GDP") is more often a concept than a name.
        name_words = {
            w.lower() for s in spans if s[:1].isupper() for w in s.split() if not _acronym(w)
        }
        content = [
            w
            for w in words_of(sentence)
            if w not in GENERIC_WORDS and w not in name_words and not w.isdigit()
        ]
        if not content or any(stem(w) in self.known_stems for w in content):
            return []
        rows = self.scores(question)
        best = max((s for _, s, _ in rows), default=0.0)
        if best >= SCOPE_MIN_SCORE:
            return []
        listed = ", ".join(repr(w) for w in dict.fromkeys(content))
        return [f"the question asks about {listed}, which none of the tools provides"]


def _needs_unspelled_choice(spec: ToolSpec, question: str) -> bool:
    """Whether a required parameter of `spec` is a fixed choice (enum) the question
    spells none of the values of."""
    folded = question.lower()
    for name in spec.required_params:
        enum = spec.param_enum(name)
        if enum and not any(str(v).lower() in folded for v in enum):
            return True
    return False


def _acronym(span: str) -> bool:
    return " " not in span and len(span) > 1 and span.isupper() and span.isalpha()


def _unquoted(text: str) -> str:
    """A description without its quoted examples ("e.g. \"Japan\"" names no concept)."""
    return re.sub(r"[\"“][^\"”]*[\"”]", " ", text)


def _strength(target: Target, q_stems: set[str], q_text: str, weak: frozenset[str]) -> float:
    """Words of the target the question spells: the best phrase (multi-word ones
    counting each word, "per square kilometre" beats "square"; function words half),
    plus one for each further content word another of its phrases spells ("How long
    is the line in kilometres": "long" and "kilometres" both name the length, while a
    journey time's "how long" names one). 0 when it names the target nowhere."""
    best = 0.0
    best_stems: set[str] = set()
    spelled: set[str] = set()
    for phrase in target.words:
        stems = [s for s in _stems(phrase)]
        if not stems:
            continue
        if len(stems) == 1:
            hit = 1.0 if stems[0] in q_stems and stems[0] not in weak else 0.0
        elif f" {' '.join(stems)} " in q_text:
            # A function word sharpens a phrase ("whose capital" beats "capital") but
            # counts half: "how long" is one concept, not two.
            hit = sum(0.5 if s in _GENERIC_STEMS else 1.0 for s in stems)
        elif len(stems) == 2 and all(
            s in q_stems and s not in weak and s not in _GENERIC_STEMS for s in stems
        ):
            hit = 2.0  # "price usd": both words present anywhere; "how … long" is one
        else:
            hit = 0.0
        if hit:
            spelled |= {s for s in stems if s not in _GENERIC_STEMS and s not in weak}
        if hit > best:
            best, best_stems = hit, set(stems)
    return best + len(spelled - best_stems) if best else 0.0


_WEAK = frozenset(stem(w) for w in ("name", "value", "number", "count", "id", "usd", "km"))
"""Words too generic to name a field on their own."""
_GENERIC_STEMS = frozenset(stem(w) for w in GENERIC_WORDS)


def _compares(sentence: str, words: list[str]) -> str | None:
    """'Which has more X, A or B?': the direction asked, or None when nothing is compared."""
    if " or " not in f" {sentence.lower()} " or not (set(words) & {"which", "who", "whose"}):
        return None
    if _asks_times(words) or set(words) & {"difference", "differ", "ratio"}:
        return None
    more = bool(set(words) & MORE_WORDS)
    less = bool(set(words) & LESS_WORDS)
    if more and not less:
        return "more"
    if less and not more:
        return "less"
    return "either"


def _asks_how_much_more(words: list[str]) -> bool:
    """'how many more … than', 'how much longer … than': a difference, not a comparison."""
    comparative = MORE_WORDS | LESS_WORDS
    for i in range(len(words) - 2):
        # "how many more X", "how many minutes longer", "how much heavier" … than
        near = words[i + 2 : i + 4]
        if (
            words[i] == "how"
            and words[i + 1] in ("many", "much")
            and any(w in comparative for w in near)
            and "than" in words[i + 3 :]
        ):
            return True
    return False


def _asks_times(words: list[str]) -> bool:
    return any(words[i : i + 3] == ["how", "many", "times"] for i in range(len(words)))


def _asks_count(words: list[str]) -> bool:
    return any(words[i : i + 2] in (["how", "many"], ["how", "much"]) for i in range(len(words)))


# -- checks of a plan -----------------------------------------------------------------


@dataclass(frozen=True)
class PlanFeatures:
    fields: frozenset[str]
    """Target keys the plan reads: `tool.field` for field references, `tool` for whole values."""
    slot_keys: tuple[str, ...]
    tools: frozenset[str]
    operators: frozenset[str]
    entity_words: frozenset[str]
    constant_calcs: tuple[str, ...]


def _read_refs(task: Task) -> list[Ref]:
    """References whose values the task computes with ("$1.name" only labels a compared
    value in larger/smaller; it is not what was asked)."""
    return [
        ref
        for param, value in task.args.items()
        if not (task.tool in COMPUTE_TOOLS and param in LABEL_PARAMS)
        for ref in find_refs(value)
    ]


def plan_features(plan: Plan) -> PlanFeatures:
    tool_of = {t.id: t.tool for t in plan.tasks}
    keys: set[str] = set()
    operators: set[str] = set()
    entity_words: set[str] = set()
    constant_calcs: list[str] = []

    def key(task_id: str, path: tuple[str, ...]) -> str | None:
        tool = tool_of.get(task_id)
        if tool is None or tool in COMPUTE_TOOLS:
            return None
        return f"{tool}.{path[0]}" if path else tool

    for task in plan.tasks:
        keys.update(k for ref in _read_refs(task) if (k := key(ref.task_id, ref.path)))
        texts = [v for v in task.args.values() if isinstance(v, str)]
        if task.tool == "calc":
            for value in texts:
                operators.update(op for op in "+-*/" if op in value.replace("$", " "))
                if not any(True for _ in find_refs(value)):
                    constant_calcs.append(task.id)
        else:
            entity_words.update(w for v in texts if "$" not in v for w in words_of(v))
    slots: list[str] = []
    for ref in template_refs(plan.answer_template or ""):
        k = key(ref.task_id, ref.path)
        if k:
            keys.add(k)
            slots.append(k)
        else:
            slots.append(tool_of.get(ref.task_id, "?"))
    return PlanFeatures(
        frozenset(keys),
        tuple(slots),
        frozenset(tool_of.values()),
        frozenset(operators),
        frozenset(entity_words),
        tuple(constant_calcs),
    )


__all__ = [
    "ASKED_MIN_SCORE",
    "COMPUTE_TOOLS",
    "OPERATIONS",
    "SCOPE_MIN_SCORE",
    "Asked",
    "Operation",
    "PlanFeatures",
    "Relevance",
    "plan_features",
]
