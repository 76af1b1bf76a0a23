"""The compact step language a model writes plans in, and its translation to `Plan`.

Small models write short, regular text far more reliably than nested JSON,
so the planner asks for numbered tool calls::

    1. country_facts("France")
    2. country_facts("Spain")
    3. calc("$1.population + $2.population")
    Answer: The combined population is {$3}.

Arguments are positional, in the tool's parameter order; `$2` refers to
step 2 and becomes `$t2` in the Plan. Rendering is the exact inverse of
parsing, so example plans are stored as Plans and shown in this form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from veritask.plan.refs import REF_PATTERN
from veritask.tools.registry import ToolRegistry
from veritask.types import Plan, Task

_STEP = re.compile(r"^\s*(\d+)\s*[.)]\s*([A-Za-z_][\w.\-]*)\s*\((.*)\)\s*$")
_ANSWER = re.compile(r"^\s*Answer\s*:\s*(.*)$", re.IGNORECASE)
_STEP_REF = re.compile(r"\$(\d+)\b")
_TASK_REF = re.compile(r"\$t(\d+)\b")


class StepSyntaxError(ValueError):
    """The model's text is not in the step language; the message says where."""


@dataclass(frozen=True)
class ParsedSteps:
    plan: Plan
    text: str


def _split_args(body: str, line_no: int) -> list[str]:
    """Positional string arguments: `"a", "b"` → ["a", "b"] (JSON string syntax)."""
    body = body.strip()
    if not body:
        return []
    try:
        values = json.loads(f"[{body}]")
    except json.JSONDecodeError as exc:
        raise StepSyntaxError(
            f"line {line_no}: arguments must be quoted strings separated by commas ({exc.msg})"
        ) from None
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise StepSyntaxError(f"line {line_no}: argument {v!r} must be a string or number")
        out.append(v if isinstance(v, str) else json.dumps(v))
    return out


def parse_steps(text: str, registry: ToolRegistry, goal: str = "") -> Plan:
    """Translate step-language text into a Plan (not yet validated against the registry
    beyond the parameter names needed to map positional arguments)."""
    tasks: list[Task] = []
    template: str | None = None
    expected = 1
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        answer = _ANSWER.match(line)
        if answer:
            template = _STEP_REF.sub(r"$t\1", answer.group(1).strip())
            break
        m = _STEP.match(line)
        if not m:
            raise StepSyntaxError(f"line {line_no}: expected 'N. tool(\"arg\")', got {line!r}")
        number, tool_name, body = int(m.group(1)), m.group(2), m.group(3)
        if number != expected:
            raise StepSyntaxError(f"line {line_no}: step {number} should be numbered {expected}")
        expected += 1
        values = [_STEP_REF.sub(r"$t\1", v) for v in _split_args(body, line_no)]
        tasks.append(Task(id=f"t{number}", tool=tool_name, args=_bind(tool_name, values, registry)))
    if not tasks:
        raise StepSyntaxError("the plan has no steps")
    return Plan(goal=goal, tasks=tasks, answer_template=template)


def _bind(tool_name: str, values: list[str], registry: ToolRegistry) -> dict[str, object]:
    if tool_name not in registry:
        # Keep the arguments under placeholder names; validation reports the unknown tool.
        return {f"arg{i + 1}": v for i, v in enumerate(values)}
    names = registry.get(tool_name).param_names
    args: dict[str, object] = {}
    for i, value in enumerate(values):
        args[names[i] if i < len(names) else f"extra{i + 1}"] = value
    return args


def render_steps(plan: Plan, registry: ToolRegistry) -> str:
    """The step-language form of `plan`; task ids are renumbered 1..n in plan order."""
    number = {t.id: i for i, t in enumerate(plan.tasks, start=1)}

    def refs(text: str) -> str:
        return re.sub(r"\$([A-Za-z_]\w*)", lambda m: f"${number.get(m.group(1), m.group(1))}", text)

    lines = []
    for i, task in enumerate(plan.tasks, start=1):
        names = registry.get(task.tool).param_names if task.tool in registry else list(task.args)
        args = [task.args[n] for n in names if n in task.args]
        rendered = ", ".join(json.dumps(refs(a) if isinstance(a, str) else a) for a in args)
        lines.append(f"{i}. {task.tool}({rendered})")
    if plan.answer_template:
        lines.append(f"Answer: {refs(plan.answer_template)}")
    return "\n".join(lines)


def canonical(plan: Plan) -> str:
    """A key under which equivalent plans compare equal (used to vote between samples).

    Plans that look the same things up in another order, or write `abs($2 - $1)` for
    `abs($1 - $2)`, `$2 + $1` for `$1 + $2` and `larger($2…, $1…)` for `larger($1…,
    $2…)`, compute the same answer: each step is keyed by what it reads (references
    replaced by the steps they name), commutative arithmetic of plain references and
    the sides of a comparison (`SIDES`) are sorted, and the steps form a set. Samples
    that agree on the meaning then vote together instead of splitting the vote.

    The Answer line's wording does not count, but what it states does: each of
    its slots is keyed like a step's reference (the step it names and the
    field), so two plans that look up the same things but answer with another
    field (`{$1.population}`, `{$1.area}`) stay apart instead of agreeing."""
    by_id = {t.id: t for t in plan.tasks}
    memo: dict[str, str] = {}

    def resolved(tid: str, depth: int = 0) -> str:
        if tid in memo or tid not in by_id or depth > len(by_id):
            return memo.get(tid, tid)
        task = by_id[tid]
        args = {k: _commuted(_inline(str(v), resolved, depth)) for k, v in task.args.items()}
        memo[tid] = task.tool + json.dumps(sorted(_sides_sorted(task.tool, args).items()))
        return memo[tid]

    steps = sorted(resolved(t.id) for t in plan.tasks)
    stated = sorted(
        f"<{resolved(m.group(1))}>{m.group(2)}"
        for m in REF_PATTERN.finditer(plan.answer_template or "")
    )
    return json.dumps([steps, stated])


_PLAIN_TERM = r"<[^<>]*(?:<[^<>]*>[^<>]*)*>(?:\.\w+)*"


def _inline(text: str, resolved: Callable[[str, int], str], depth: int) -> str:
    """`text` with each reference replaced by the key of the step it names."""
    inlined = REF_PATTERN.sub(lambda m: f"<{resolved(m.group(1), depth + 1)}>{m.group(2)}", text)
    return inlined.replace(" ", "")


SIDES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    tool: (("first", "first_value"), ("second", "second_value")) for tool in ("larger", "smaller")
}
"""Tools whose two sides (a name and its value each) may be swapped without changing the
result: the core comparisons name the same winner whichever side it is on (an
equal pair is an error either way). `larger(B, b, A, a)` is keyed as
`larger(A, a, B, b)`, so samples that put the two things in the other order
vote together: on the geography suite they split the vote and sent the
question to the resample rung (q017: 7 samples, 2.8 s)."""


def _sides_sorted(tool: str, args: dict[str, str]) -> dict[str, str]:
    sides = SIDES.get(tool)
    if sides is None or any(k not in args for side in sides for k in side):
        return args
    (name_a, value_a), (name_b, value_b) = sides
    first, second = (args[name_a], args[value_a]), (args[name_b], args[value_b])
    if second >= first:
        return args
    return {**args, name_a: second[0], value_a: second[1], name_b: first[0], value_b: first[1]}


def _commuted(text: str) -> str:
    """`abs(a-b)` and `b-a` inside abs, `b+a`, `b*a` in a sorted order (terms that are
    references only; anything more complex is left as written)."""
    m = re.fullmatch(rf"abs\(({_PLAIN_TERM})-({_PLAIN_TERM})\)", text)
    if m:
        a, b = sorted((m.group(1), m.group(2)))
        return f"abs({a}-{b})"
    for op in "+*":
        terms = re.split(rf"(?<=[>\w])\{op}(?=<)", text)
        if len(terms) > 1 and all(re.fullmatch(_PLAIN_TERM, t) for t in terms):
            return op.join(sorted(terms))
    return text
