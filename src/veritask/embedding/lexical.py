"""BM25 over a handful of short documents: the fallback when no model is loaded.

Why keep it: veritask must still choose tools and fields when the embedding
model's package is absent or disabled (``VERITASK_EMBEDDER=none``). Word
overlap catches the common cases ("restocked" ~ "restock date") once words are
reduced to a rough stem; it cannot see synonyms ("expensive" ~ "price"), which
is what the model is for.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[a-z0-9]+")
_K1 = 1.2
_B = 0.75

# A few words too common to signal anything in planner texts.
_STOP = frozenset(
    "a an and are as at be by for from has have how in is it its of on or the to was were "
    "what when where which who why will with".split()
)


def stem(word: str) -> str:
    """Reduce a word to a rough stem so inflections meet (no dictionary, deliberately crude).

    Strips one suffix (plural, -ed, -ing, -er), then a final "e" and a final
    consonant+"y" → "i": "supplies"/"supplier"/"supply" → "suppli",
    "restocked"/"restocking" → "restock", "prices"/"priced" → "pric".
    """
    w = _strip_suffix(word.lower())
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    if len(w) > 3 and w.endswith("y") and w[-2] not in "aeiou":
        w = w[:-1] + "i"
    return w


def _strip_suffix(w: str) -> str:
    if len(w) <= 3:
        return w
    for suffix in ("ies", "ied", "ier", "iers"):
        if w.endswith(suffix) and len(w) > len(suffix) + 2:
            return w[: -len(suffix)] + "i"
    for suffix in ("ing", "ers", "ed", "er", "es", "s"):
        if not w.endswith(suffix) or len(w) - len(suffix) < 3:
            continue
        base = w[: -len(suffix)]
        if suffix == "s" and base.endswith(("s", "u", "i")):
            return w  # "glass", "status", "analysis"
        if suffix == "es" and not base.endswith(("s", "x", "z", "ch", "sh")):
            return w[:-1]  # "prices" → "price"
        if suffix != "s" and len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
            base = base[:-1]  # "shipped" → "ship"
        return base
    return w


def tokens(text: str) -> list[str]:
    """Lower-cased word stems of ``text``; splits snake_case and drops stop words."""
    return [stem(w) for w in _WORD.findall(text.lower().replace("_", " ")) if w not in _STOP]


def bm25_scores(query: str, docs: Sequence[str]) -> list[float]:
    """BM25 score of each document in ``docs`` for ``query`` (higher = more relevant).

    IDF is computed over ``docs`` themselves, so scores are only comparable
    within one call. A document sharing no stem with the query scores 0.0.
    """
    doc_tokens = [tokens(d) for d in docs]
    if not doc_tokens:
        return []
    n = len(doc_tokens)
    avg_len = sum(len(t) for t in doc_tokens) / n or 1.0
    df: Counter[str] = Counter()
    for toks in doc_tokens:
        df.update(set(toks))
    query_terms = Counter(tokens(query))
    scores: list[float] = []
    for toks in doc_tokens:
        tf = Counter(toks)
        norm = _K1 * (1 - _B + _B * len(toks) / avg_len)
        score = 0.0
        for term, q_count in query_terms.items():
            f = tf.get(term, 0)
            if f:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                score += q_count * idf * f * (_K1 + 1) / (f + norm)
        scores.append(score)
    return scores


__all__ = ["bm25_scores", "stem", "tokens"]
