"""A GBNF grammar built per question, so a small model can only write sane plans.

Mistakes a 135M-parameter planner makes are ruled out while it decodes, not
after: it cannot name an entity that is not in the question (text arguments
are alternatives drawn from the question's own spans, a parameter's enum
values, or text fields of earlier steps), cannot use a number the question
does not give, cannot refer to a step that does not exist yet, and can only
call the tools relevant to the question and read the fields it asks for.
Whatever it writes parses. Nothing here is specific to a domain: tools,
fields and their kinds come from the catalog, relevance from `relevance.py`.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from veritask.planner.answer_text import answer_text_rules
from veritask.planner.catalog import Catalog
from veritask.planner.question_text import (
    asks_unsigned_difference,
    choice_names,
    compared_names,
    question_numbers,
    question_spans,
)
from veritask.planner.relevance import COMPUTE_TOOLS, Asked
from veritask.tools.registry import ToolSpec

MAX_STEPS = 5
MAX_TOOLS = 6
"""Tools offered to the model per question (the catalog may have fifty)."""
EXPRESSION_PARAMS = frozenset({"expression"})
"""Parameters whose value is arithmetic over earlier steps (calc's), not an entity name."""


def _lit(text: str) -> str:
    """A GBNF string literal."""
    return json.dumps(text, ensure_ascii=False)


def _alts(options: Iterable[str]) -> str:
    return " | ".join(_lit(o) for o in options)


def _step_digits(upto: int) -> str:
    return f"[1-{upto}]" if upto > 1 else '"1"'


def _param_kind(spec: ToolSpec, name: str) -> str:
    if name in EXPRESSION_PARAMS:
        return "expr"
    if spec.param_enum(name):
        return "enum"
    from veritask.tools.registry import kind_of

    kind = kind_of(spec.params_model.model_fields[name].annotation)
    return "number" if kind == "number" else "text"


def _call_rule(
    spec: ToolSpec,
    k: int,
    enum_rules: dict[str, str],
    expr: str = "expr",
    chain: dict[str, str] | None = None,
) -> str:
    """One tool call at step k: positional args, trailing optional args may be left out.
    `expr` names the arithmetic rule (`exprop` demands at least one operator); `chain`
    the rule of the fields a look-up's text argument may read (see `_chain_field_names`)."""
    text_arg = f"sarg{k}"
    if chain is not None and spec.name in chain:
        # A tool no earlier field can feed takes the question's own spans only (sarg1).
        text_arg = f"sarg{k}{chain[spec.name]}" if k > 1 and chain[spec.name] else "sarg1"
    parts: list[tuple[str, bool]] = []
    required = set(spec.required_params)
    for i, name in enumerate(spec.param_names):
        kind = _param_kind(spec, name)
        if kind == "enum":
            arg = enum_rules[f"{spec.name}.{name}"]
        else:
            arg = {"expr": f'"\\"" {expr}{k} "\\""', "number": f"narg{k}"}.get(kind, text_arg)
        sep = '", " ' if i else ""
        parts.append((sep + arg, name in required))
    body = ""
    # Build from the right so each optional argument nests its followers.
    for piece, is_required in reversed(parts):
        body = f"{piece} {body}".strip() if is_required else f"({piece} {body})?".strip()
    return f'{_lit(spec.name + "(")} {body} ")"'.replace("  ", " ")


def chosen_tools(catalog: Catalog, asked: Asked) -> list[ToolSpec]:
    """The tools offered for this question: those whose fields or values it asks for,
    then the best-ranked others up to MAX_TOOLS, plus the computing tools it needs."""
    registry = catalog.registry
    order: list[str] = sorted(asked.tools)
    order += [key.split(".")[0] for key in sorted(asked.targets)]
    order += [key.split(".")[0] for key, _ in asked.ranked]
    names = [n for n in dict.fromkeys(order) if n in registry][:MAX_TOOLS]
    if asked.owner is not None:
        # Every field the answer may state belongs to one tool: that tool alone looks it
        # up ("the stations of the Crown line" is line's field, not station's, and a
        # travel-time tool offered beside it only invites reading a field it lacks).
        names = [asked.owner]
    elif asked.tools:
        # A tool the question names by its own words answers it; others that merely
        # share its fields ("continent" of the country whose capital is X) step aside.
        covered = {
            f for t in asked.tools if t in registry for f in registry.get(t).output_fields or ()
        }
        names = [
            n
            for n in names
            if n in asked.tools or not (set(registry.get(n).output_fields or ()) & covered)
        ]
    if asked.operators or asked.times:
        names.append("calc")
    if asked.compares in ("more", "either"):
        names.append("larger")
    if asked.compares in ("less", "either"):
        names.append("smaller")
    return [registry.get(n) for n in dict.fromkeys(names) if n in registry]


def _fields(catalog: Catalog, tools: list[ToolSpec], asked: Asked) -> tuple[set[str], set[str]]:
    """(fields a slot may name, numeric fields arithmetic may use) for the offered tools."""
    offered = {s.name for s in tools}
    every: dict[str, str] = {}
    for spec in tools:
        if spec.name not in COMPUTE_TOOLS:
            every.update(spec.output_kinds or dict.fromkeys(spec.output_fields or (), "other"))
    wanted = {k.split(".", 1)[1] for k in asked.slots if "." in k and k.split(".")[0] in offered}
    slot = (wanted & set(every)) or set(every)
    numeric = {f for f, kind in every.items() if kind == "number"}
    return slot, (numeric & slot) or numeric


def build_grammar(question: str, catalog: Catalog, asked: Asked, max_steps: int = MAX_STEPS) -> str:
    """The GBNF grammar for plans answering `question` with the catalog's relevant tools."""
    tools = chosen_tools(catalog, asked)
    spans = entity_spans(question, catalog) or ["?"]
    numbers = question_numbers(question)
    slot_fields, numeric = _fields(catalog, tools, asked)
    text_fields = {
        f
        for s in tools
        for f, kind in (s.output_kinds or {}).items()
        if kind == "text" and s.name not in COMPUTE_TOOLS
    }
    enum_rules: dict[str, str] = {}
    rules = [
        "root ::= step1",
        f"ent ::= {_alts(spans)}",
        # A bare value compared is labelled by one of the names offered as the choice.
        f"lab ::= {_alts(choice_names(question, spans) or spans)}",
        f"field ::= {_choice(slot_fields)}",
        f"tfield ::= {_choice(text_fields or slot_fields)}",
        f"lfield ::= {_choice(_label_fields(tools) or text_fields or slot_fields)}",
        f"nfield ::= {_choice(numeric or slot_fields)}",
        f"num ::= {_alts(numbers) if numbers else _lit('0')}",
        f"op ::= {_alts(f' {o} ' for o in sorted(asked.operators or {'+', '-', '*', '/'}))}",
        *answer_text_rules(bool(numbers)),
    ]
    for spec in tools:
        for name in spec.param_names:
            enum = spec.param_enum(name)
            if enum:
                rule = f"enum{len(enum_rules) + 1}"
                named = _named_enum(spec, name, question)
                rules.append(f'{rule} ::= "\\"" ({_alts(str(v) for v in named)}) "\\""')
                enum_rules[f"{spec.name}.{name}"] = rule
    final = final_shape(asked, tools)
    lookups = [t for t in tools if t.name not in COMPUTE_TOOLS]
    chain: dict[str, str] = {}
    planned = {s.name for s in catalog.registry}
    for i, spec in enumerate(lookups):
        fields = _chain_field_names(spec, lookups, planned)
        chain[spec.name] = f"cf{i + 1}" if fields else ""
        if fields:
            rules.append(f"cf{i + 1} ::= {_choice(fields)}")
    finals = [t for t in tools if t.name in final] if final else []
    # No more steps than the question names things, plus one (the computation, or a
    # look-up by an earlier step's field): a small model otherwise repeats
    # "product("Gadget")" until the last step and adds every copy up, or tacks on
    # look-ups nothing reads. "Fenwick Cross and Lantern Hill" is offered whole as well
    # as in its parts, but names two things: count only spans that hold no other span.
    names = _distinct_names(spans)
    # "How many years apart …": a difference no side of which the question names is
    # absolute, whichever look-up came first (the checks require the same).
    # So is one between look-ups of several names each ("the journey A to T than A to
    # G"): which step is the "than" side cannot be told from one name, and a reversed
    # difference is a confident wrong sign.
    paired = any(len(t.required_params) > 1 for t in lookups)
    unsigned = "-" in asked.required and (
        asks_unsigned_difference(question)
        or (paired and not asked.times and "/" not in asked.required)
    )
    max_steps = max(2, min(max_steps, len(names) + 1))
    for k in range(1, max_steps + 1):
        rules += _step_rules(
            k, max_steps, tools, lookups, finals, enum_rules, bool(numbers), chain, unsigned
        )
    if finals:
        directed = bool({"/", "-"} & asked.required) or asked.times
        distinct = _distinct_chain(
            max_steps, lookups, spans, question, directed and "calc" in final, bool(numbers), chain
        )
        if distinct:
            replaced = ("step1 ::=", "look", "cont")
            rules = [r for r in rules if not r.startswith(replaced)] + distinct
    text = "\n".join(rules) + "\n"
    if lookups and not any(t.output_fields for t in lookups):
        # Every look-up returns a bare value (a travel time): `$1` is the value, and a
        # field after it (".value", ".minutes") is one no step returns.
        for optional in (' ("." nfield)?', ' ("." field)?', ' "." nfield'):
            text = text.replace(optional, "")
        text = re.sub(r' \| "\$" (?:"\d"|\[1-\d\]) "\." (?:tfield|cf\d+)', "", text)
    return text


MAX_PAIRED_NAMES = 5
"""A look-up of several names (a journey from A to B) is offered every ordering of up
to this many of the question's names; with more, the plain rules stand."""


def entity_spans(question: str, catalog: Catalog) -> list[str]:
    """The question's spans a look-up may take as a name (the grammar's `ent`)."""
    known = frozenset(w.lower() for w in _catalog_words(catalog))
    return question_spans(question, known)


def _call_values(spec: ToolSpec, spans: list[str], question: str) -> list[Call] | None:
    """The names a look-up may be called with, one tuple per call, or None when its
    required parameters are not all names (a number, an expression)."""
    params = spec.required_params
    if len(params) != len(spec.param_names) or not params:
        return None
    if len(params) == 1:
        kind = _param_kind(spec, params[0])
        if kind == "enum":
            return [(v,) for v in _named_enum(spec, params[0], question)]
        return [(v,) for v in spans] if kind == "text" else None
    if any(_param_kind(spec, p) != "text" for p in params):
        return None
    names = _distinct_names(spans)
    if len(names) > MAX_PAIRED_NAMES:
        return None
    return list(itertools.permutations(names, len(params)))


def _distinct_names(spans: list[str]) -> list[str]:
    """The spans that hold no other span: "Fenwick Cross and Lantern Hill" is offered
    whole, but the things it names are its two parts."""
    return [s for s in spans if not any(o != s and o in s for o in spans)]


def _named_enum(spec: ToolSpec, name: str, question: str) -> list[str]:
    """The enum values of `name` the question spells, or all of them when it spells none."""
    enum = [str(v) for v in spec.param_enum(name) or ()]
    return [v for v in enum if v.lower() in question.lower()] or enum


def _distinct_chain(
    max_steps: int,
    lookups: list[ToolSpec],
    spans: list[str],
    question: str,
    directed: bool = False,
    has_numbers: bool = True,
    chain_fields: dict[str, str] | None = None,
) -> list[str]:
    """Look-ups before a final computation, each of a name not looked up yet.

    A small model that has written `line("Meadow")` writes it again ("the sum of the
    Meadow and Crown lines" becomes Meadow + Meadow + Meadow). When every look-up tool
    takes names only, the grammar remembers which names are used (a state per set of
    names, a handful for a question's two or three) and offers only calls that look up
    a name not used yet — for a tool of two names ("from A to B"), at least one new
    one, so "A to T, then A to G" can be written but "A to T" twice cannot; a look-up
    by an earlier step's text field (a chain) is always open. Empty when some tool
    takes a number or an expression: then the plain rules stand.

    `directed` (a ratio or difference "… than X"): the states remember the order of the
    names too, so the final calc can put the step that looked up X after the operator —
    "how many times busier is A than X" is `$A / $X`, never the reverse.
    """
    values: dict[str, list[Call]] = {}
    for spec in lookups:
        found = _call_values(spec, spans, question)
        if found is None:
            return []
        values[spec.name] = found
    every = list(dict.fromkeys(v for calls in values.values() for c in calls for v in c))
    if not every or len(every) > 8:
        return []
    single = all(len(c) == 1 for calls in values.values() for c in calls)
    bases = compared_names(question, every) if directed and single else []
    chain = _Chain(lookups, values, every, bases[0] if len(bases) == 1 else None)
    chain.chain_fields = chain_fields or {}
    conts = chain.looks(max_steps)
    return chain.rules + chain.continuations(conts, max_steps, directed, has_numbers)


Call = tuple[str, ...]
"""The names one look-up is called with, in parameter order."""
Seq = tuple[str, ...]
"""The names looked up so far, step by step ("" for a look-up by an earlier field; the
names of a call of several joined by `_SEP`)."""
_SEP = "\x1f"


@dataclass
class _Chain:
    """The states of `_distinct_chain` and the rules it writes."""

    lookups: list[ToolSpec]
    values: dict[str, list[Call]]
    every: list[str]
    base: str | None
    rules: list[str] = field(default_factory=list)
    chain_fields: dict[str, str] = field(default_factory=dict)
    """Per look-up tool, the rule of the fields its argument may read ("": none; see
    `_chain_field_names`); a tool missing here reads any text field."""

    def used(self, seq: Seq) -> frozenset[str]:
        """Names no longer offered: those looked up, and any name overlapping one."""
        looked = [part for v in seq if v for part in v.split(_SEP)]
        return frozenset(w for v in looked for w in self.every if w in v or v in w)

    def state(self, k: int, seq: Seq) -> str:
        marks = seq if self.base else tuple(sorted(self.used(seq)))
        return f"{k}s" + "".join("r" if not v else str(self.every.index(v)) for v in marks)

    def _is_text(self, spec: ToolSpec) -> bool:
        return len(spec.param_names) == 1 and _param_kind(spec, spec.param_names[0]) == "text"

    def looks(self, max_steps: int) -> dict[str, tuple[int, Seq]]:
        """Write the look-up rules of every reachable state; the states they lead to."""
        self.rules.append('step1 ::= "1. " look1s')
        todo: list[tuple[int, Seq]] = [(1, ())]
        done: set[str] = set()
        conts: dict[str, tuple[int, Seq]] = {}
        while todo:
            k, seq = todo.pop()
            if self.state(k, seq) in done:
                continue
            done.add(self.state(k, seq))
            used = self.used(seq)
            alts = []
            reached: dict[str, tuple[int, Seq]] = {}
            for spec in self.lookups:
                nexts = [
                    (f"{spec.name}({', '.join(json.dumps(v) for v in c)})", (*seq, _SEP.join(c)))
                    for c in self.values[spec.name]
                    if any(v not in used for v in c)
                ]
                for call, after in nexts:
                    alts.append(f'{_lit(call)} "\\n" cont{self.state(k, after)}')
                    reached[self.state(k, after)] = (k, after)
                if k > 1 and self._chains_into(spec):
                    fields = self.chain_fields.get(spec.name, "tfield")
                    ref = f'"\\"$" {_step_digits(k - 1)} "." {fields} "\\""'
                    after = (*seq, "")
                    call = f'{_lit(spec.name + "(")} {ref} ")"'
                    alts.append(f'{call} "\\n" cont{self.state(k, after)}')
                    reached[self.state(k, after)] = (k, after)
            self.rules.append(f"look{self.state(k, seq)} ::= {' | '.join(alts)}")
            conts.update(reached)
            todo += [(k + 1, c) for _, c in reached.values() if self.goes_on(k + 1, c, max_steps)]
        return conts

    def goes_on(self, j: int, seq: Seq, max_steps: int) -> bool:
        """Whether step j may be another look-up after `seq`: a step is left before the
        last, and a name is still unused or a look-up by an earlier field is possible."""
        return j < max_steps and (
            any(v not in self.used(seq) for v in self.every)
            or any(self._chains_into(spec) for spec in self.lookups)
        )

    def _chains_into(self, spec: ToolSpec) -> bool:
        """Whether `spec` may be called with an earlier step's field."""
        return self._is_text(spec) and bool(self.chain_fields.get(spec.name, "tfield"))

    def continuations(
        self, conts: dict[str, tuple[int, Seq]], max_steps: int, directed: bool, numbers: bool
    ) -> list[str]:
        """After each state: another look-up, or the final step (directed when it can be)."""
        out: list[str] = []
        for name, (k, seq) in sorted(conts.items()):
            j = k + 1
            more = f"look{self.state(j, seq)}" if self.goes_on(j, seq, max_steps) else ""
            if directed and len(seq) < 2 and more:
                out.append(f'cont{name} ::= "{j}. " {more}')  # a ratio needs two values
                continue
            fin = f"fin{j}"
            if self.base and self.base in seq:
                last = seq.index(self.base) + 1
                fin = f"fin{j}b{last}"
                rule = f'{fin} ::= "calc(\\"" {_base_last(j, last, numbers)} "\\")"'
                if rule not in out:
                    out.append(rule)
            either = f"{more} | " if more else ""
            out.append(f'cont{name} ::= "{j}. " ({either}{fin} "\\n" answer{j})')
        return out


def _base_last(k: int, base: int, has_numbers: bool) -> str:
    """Arithmetic at step k reading every earlier step once, step `base` last."""
    others = [i for i in range(1, k) if i != base]
    core = _read_in_orders((*order, base) for order in itertools.permutations(others))
    return f"(num op)? {core} (op num)?" if has_numbers and others else core


def final_shape(asked: Asked, tools: list[ToolSpec]) -> frozenset[str]:
    """The tools a plan must end with, by what the question asks: a comparison ends
    with larger/smaller, a sum, ratio or difference with calc; else no constraint."""
    offered = {t.name for t in tools}
    if asked.compares is not None:
        return frozenset({"larger", "smaller"} & offered)
    if asked.computed_by:
        return frozenset()  # a tool computes what is asked ("how far apart": distance_km)
    if asked.required or asked.times:
        return frozenset({"calc"} & offered)
    if "*" in asked.operators and not any(_takes_number(t) for t in tools):
        return frozenset({"calc"} & offered)  # "What do 5 Padlocks cost?": 5 × a price
    return frozenset()


def _takes_number(spec: ToolSpec) -> bool:
    """Whether a look-up tool has a numeric parameter a question's number could fill."""
    if spec.name in COMPUTE_TOOLS:
        return False
    return any(_param_kind(spec, n) == "number" for n in spec.param_names)


def _step_rules(
    k: int,
    max_steps: int,
    tools: list[ToolSpec],
    lookups: list[ToolSpec],
    finals: list[ToolSpec],
    enum_rules: dict[str, str],
    has_numbers: bool = True,
    chain: dict[str, str] | None = None,
    unsigned: bool = False,
) -> list[str]:
    """Rules of step k. With a required final shape, lookups lead on and a final
    computing step (from step 2 on) ends the plan with its one answer slot."""
    rules = []
    last = k == max_steps
    if finals:
        look = " | ".join(_call_rule(s, k, enum_rules, chain=chain) for s in lookups)
        look = look or '"none()"'
        rules.append(f"look{k} ::= {look}")
        # The final calculation uses every look-up once: "$1.x / $1.x" (a value with
        # itself) or a step nothing reads cannot be written.
        fin = " | ".join(
            _compare_rule(s, k, bare=not any(t.output_fields for t in lookups))
            if s.name in ("larger", "smaller") and k > 2
            else _call_rule(s, k, enum_rules, "exprall")
            for s in finals
        )
        rules.append(f"fin{k} ::= {fin}")
        if k == 1:
            rules.append('step1 ::= "1. " look1 "\\n" cont1')
        if not last:
            j = k + 1
            go_on = f'look{j} "\\n" cont{j} | ' if j < max_steps else ""
            rules.append(f'cont{k} ::= "{j}. " ({go_on}fin{j} "\\n" answer{j})')
        rules.append(f'answer{k} ::= "Answer: " text "{{${k}}}" text "."? "\\n"')
    else:
        nxt = f' | "{k + 1}. " call{k + 1} "\\n" more{k + 1}' if not last else ""
        if k == 1:
            rules.append('step1 ::= "1. " call1 "\\n" more1')
        calls = " | ".join(_call_rule(spec, k, enum_rules, chain=chain) for spec in tools)
        calls = calls or '"none()"'
        rules.append(f"more{k} ::= answer{k}{nxt}")
        rules.append(f"call{k} ::= {calls}")
        # A slot names a field unless some offered tool returns a bare value (a calc,
        # a distance): "{$1}" of a record is never an answer.
        whole = any(not t.output_fields for t in tools)
        field = '("." field)?' if whole else '"." field'
        slot = f'"{{$" {_step_digits(k)} {field} "}}"'
        rules.append(f'answer{k} ::= "Answer: " text ({slot} text){{1,3}} "."? "\\n"')
    if k == 1:
        rules.append('sarg1 ::= "\\"" ent "\\""')
        rules.append('narg1 ::= "\\"" num "\\""')
        rules.append("expr1 ::= num (op num)*")
        rules.append("exprop1 ::= num (op num)+")
        rules.append("exprall1 ::= num (op num)+")
    else:
        ref = f'"$" {_step_digits(k - 1)}'
        rules.append(f'ref{k} ::= {ref} ("." nfield)?')
        rules.append(f'sarg{k} ::= "\\"" (ent | {ref} "." tfield) "\\""')
        for fields in sorted({f for f in (chain or {}).values() if f}):
            rules.append(f'sarg{k}{fields} ::= "\\"" (ent | {ref} "." {fields}) "\\""')
        rules.append(f'narg{k} ::= "\\"" (num | {ref} "." nfield) "\\""')
        rules.append(f'term{k} ::= ref{k} | num | "(" expr{k} ")" | "abs(" expr{k} ")"')
        rules.append(f"expr{k} ::= term{k} (op term{k})*")
        rules.append(f"exprop{k} ::= term{k} (op term{k})+")
        rules.append(f"exprall{k} ::= {_every_step_once(k, has_numbers, unsigned)}")
    return rules


def _chain_field_names(spec: ToolSpec, lookups: list[ToolSpec], planned: set[str]) -> set[str]:
    """Text fields an earlier step may hand to `spec` as its argument ("the colour of
    the line Tallis Park is on": station → `line($1.line)`). Not a label field — the
    name a thing was looked up by looks up the same thing again — and not a field that
    is the name of another tool: a station's `line` is an argument for `line`, never
    for `station` ("passengers of Ravensholm in 7 days" is not `station($1.line)`)."""
    texts = {f for s in lookups for f, kind in (s.output_kinds or {}).items() if kind == "text"}
    return {f for f in texts - _label_fields(lookups) if f not in planned or f == spec.name}


def _label_fields(tools: list[ToolSpec]) -> set[str]:
    """The text field that names a looked-up thing: the one called like the tool's own
    parameter (product(name) → name, book(title) → title), else `name`. A supplier or
    a colour is a text field too, but it does not say which thing won a comparison."""
    out: set[str] = set()
    for spec in tools:
        if spec.name in COMPUTE_TOOLS:
            continue
        texts = {f for f, kind in (spec.output_kinds or {}).items() if kind == "text"}
        named = texts & (set(spec.required_params) | {"name"})
        out |= named
    return out


def _compare_rule(spec: ToolSpec, k: int, bare: bool = False) -> str:
    """larger/smaller at step k over two different earlier steps, each named by its own
    text field and measured by its own number: never the same thing on both sides.
    `bare` look-ups (a travel time) have no name field: each side is then named by a
    name of the question, and the checks hold it to the name its step looked up."""
    pairs = []
    for a, b in itertools.permutations(range(1, k), 2):
        if bare:
            pairs.append(f'"\\"" lab "\\", \\"${a}\\", \\"" lab "\\", \\"${b}\\""')
            continue
        pairs.append(
            f'"\\"$" "{a}" "." lfield "\\", \\"$" "{a}" "." nfield "\\", '
            f'\\"$" "{b}" "." lfield "\\", \\"$" "{b}" "." nfield "\\""'
        )
    return f'{_lit(spec.name + "(")} ({" | ".join(pairs)}) ")"'


def _every_step_once(k: int, has_numbers: bool = True, unsigned: bool = False) -> str:
    """Arithmetic at step k that reads each earlier step exactly once, in any order,
    with the question's numbers around it ("3 * $1.price", "abs($1.a - $2.a)");
    `unsigned`: only the absolute value of it."""
    steps = list(range(1, k))
    if len(steps) > 4:  # 120+ orders: fall back to any arithmetic with an operator
        return f"term{k} (op term{k})+"
    core = _read_in_orders(itertools.permutations(steps))
    joined = f'"abs(" {core} ")"' if unsigned and k > 2 else f'"abs(" {core} ")" | {core}'
    if not has_numbers:  # no number in the question: only the looked-up values
        return joined
    if len(steps) == 1:  # one look-up: a number of the question must combine with it
        return f"(num op ({joined})) | (({joined}) op num)"
    return f"(num op)? ({joined}) (op num)?"


def _read_in_orders(orders: Iterable[Iterable[int]]) -> str:
    """Arithmetic reading the given steps in one of the given orders, an operator
    between each two ("$2.x / $1.x")."""
    reads = (" op ".join(f'"${i}" ("." nfield)?' for i in order) for order in orders)
    return "(" + " | ".join(f"({r})" for r in reads) + ")"


def _catalog_words(catalog: Catalog) -> set[str]:
    """Words the catalog uses for its own concepts: never entity names."""
    from veritask.planner.question_text import words_of

    out: set[str] = set()
    for target in catalog.targets():
        for w in target.words:
            out.update(words_of(w))
    for spec in catalog.registry:
        out.update(words_of(spec.name.replace("_", " ")))
    from veritask.planner.relevance import LESS_WORDS, MORE_WORDS, OPERATIONS

    for op in OPERATIONS:
        out.update(op.cues)
    return out | MORE_WORDS | LESS_WORDS


def _choice(names: set[str]) -> str:
    return _alts(sorted(names)) if names else _lit("value")


__all__ = ["MAX_STEPS", "build_grammar", "chosen_tools"]
