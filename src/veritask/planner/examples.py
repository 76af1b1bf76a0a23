"""Example plans for the prompt: the toolkits' own, chosen by meaning, or made from schemas.

Small models imitate worked examples far more faithfully than they follow a
description of a format. The examples come from the active toolkits (their
(question, plan) pairs) and from episodic memory; the closest ones to the
question, by sentence embedding (BM25 without the model), are shown.

A toolkit may bring no examples at all. Then the planner writes its own
from the tool descriptions alone: a look-up of the field the question asks
for, and, when the question asks for arithmetic, two look-ups combined with
`calc`, all with placeholder names (X, Y) a model cannot copy into its plan.
"""

from __future__ import annotations

from collections.abc import Sequence

from veritask.embedding import default_embedder, embed
from veritask.embedding.lexical import bm25_scores
from veritask.planner.catalog import Catalog
from veritask.planner.question_text import without_names
from veritask.planner.relevance import COMPUTE_TOOLS, Asked
from veritask.planner.steps import render_steps
from veritask.tools.registry import ToolSpec

Pair = tuple[str, str]
"""(question, plan in the step language)."""


def rank_by_meaning(question: str, candidates: Sequence[str]) -> list[float]:
    """Similarity of `question` to each candidate question, in [0, 1]."""
    if not candidates:
        return []
    question = without_names(question)
    candidates = [without_names(c) for c in candidates]
    if default_embedder() is not None:
        vectors = embed([question, *candidates])
        return [float(v) for v in vectors[1:] @ vectors[0]]
    raw = bm25_scores(question, list(candidates))
    top = max(raw, default=0.0) or 1.0
    return [r / top for r in raw]


def toolkit_pairs(catalog: Catalog) -> list[Pair]:
    """Every toolkit example as (question, steps)."""
    return [(q, render_steps(plan, catalog.registry)) for q, plan in catalog.examples]


def closest(question: str, pool: Sequence[Pair], k: int) -> list[tuple[float, Pair]]:
    """The k pairs of `pool` closest to `question`, each with its similarity."""
    scores = rank_by_meaning(question, [q for q, _ in pool])
    ranked = sorted(zip(scores, pool, strict=True), key=lambda r: r[0], reverse=True)
    return ranked[:k]


def synthesized(catalog: Catalog, asked: Asked) -> list[Pair]:
    """Examples written from tool descriptions alone, for a catalog without examples."""
    registry = catalog.registry
    out: list[Pair] = []
    keys = [k for k in sorted(asked.targets)] + [k for k, _ in asked.ranked]
    for key in dict.fromkeys(keys):
        tool, _, field = key.partition(".")
        if tool not in registry or tool in COMPUTE_TOOLS:
            continue
        spec = registry.get(tool)
        pair = _lookup_example(spec, field)
        if pair is not None:
            out.append(pair)
            summable = field and spec.output_kinds.get(field) == "number"
            if asked.operators - {"*"} and summable and len(spec.required_params) == 1:
                out.append(_sum_example(spec, field))
        if len(out) >= 2:
            break
    return out[:2]


def _text_params(spec: ToolSpec) -> list[str]:
    from veritask.tools.registry import kind_of

    return [
        n
        for n in spec.required_params
        if kind_of(spec.params_model.model_fields[n].annotation) == "text"
    ]


def _lookup_example(spec: ToolSpec, field: str) -> Pair | None:
    params = _text_params(spec)
    if not params or len(params) != len(spec.required_params):
        return None
    names = ["X", "Y", "Z"][: len(params)]
    args = ", ".join(f'"{n}"' for n in names)
    subject = " and ".join(names)
    label = (field or spec.name).replace("_", " ")
    slot = f"{{$1.{field}}}" if field else "{$1}"
    question = f"What is the {label} of {subject}?"
    return question, f"1. {spec.name}({args})\nAnswer: The {label} of {subject} is {slot}."


def _sum_example(spec: ToolSpec, field: str) -> Pair:
    label = field.replace("_", " ")
    question = f"What is the combined {label} of X and Y?"
    steps = (
        f'1. {spec.name}("X")\n2. {spec.name}("Y")\n'
        f'3. calc("$1.{field} + $2.{field}")\n'
        f"Answer: The combined {label} of X and Y is {{$3}}."
    )
    return question, steps


__all__ = ["Pair", "closest", "rank_by_meaning", "synthesized", "toolkit_pairs"]
