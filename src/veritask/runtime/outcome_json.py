"""Outcomes as JSON for the event log, cheaply on the hot path.

Every task's terminal event carries its outcome. Plain values (the usual
case) are dumped by hand, skipping pydantic's generic machinery; anything
else goes through pydantic once, and values the log cannot hold are caught
before the store sees them.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import PydanticSerializationError

from veritask.types import Outcome


def dump_outcome(outcome: Outcome) -> dict[str, Any]:
    """An outcome as JSON; values that JSON cannot hold are stored as their repr."""
    fast = _dump_plain_success(outcome)
    if fast is not None:
        return fast
    return outcome.model_dump(mode="json", fallback=repr)


def _dump_plain_success(o: Outcome) -> dict[str, Any] | None:
    """The same dict pydantic would build, by hand, for the common case on the hot
    path: a success with a plain value, plain evidence and no signals to convert."""
    if o.error is not None or o.confidence.signals or not plain(o.value):
        return None
    evidence = []
    for src in o.evidence:
        if not (plain(src.query) and plain(src.fields)):
            return None
        evidence.append(
            {
                "tool": src.tool,
                "query": src.query,
                "source": src.source,
                "record_id": src.record_id,
                "url": src.url,
                "fields": src.fields,
            }
        )
    u = o.usage
    return {
        "task_id": o.task_id,
        "status": o.status.value,
        "value": o.value,
        "confidence": {
            "score": o.confidence.score,
            "method": o.confidence.method.value,
            "signals": {},
        },
        "evidence": evidence,
        "error": None,
        "attempts": o.attempts,
        "usage": {
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cost_usd": u.cost_usd,
            "latency_s": u.latency_s,
            "model_calls": u.model_calls,
        },
    }


def storable(tid: str, outcome: Outcome) -> tuple[dict[str, Any], str | None] | None:
    """The terminal event's data (and its JSON text when it had to be checked), or None
    when the log cannot store it.

    Plain values — the usual case — are known to serialise, so they skip the trial
    dump; anything else is dumped here once, and the store reuses the text.
    """
    fast = _dump_plain_success(outcome)
    if fast is not None:  # plain by construction: it will serialise
        return {"task_id": tid, "outcome": fast}, None
    if not finite(outcome.value):
        return None
    try:
        # Strict: a value JSON cannot hold (an object, NaN) fails its task rather than
        # being logged as its repr. Tuples and sets become lists, deliberately.
        data = {"task_id": tid, "outcome": outcome.model_dump(mode="json")}
        if plain(outcome.value) and all(
            plain(e.fields) and plain(e.query) for e in outcome.evidence
        ):
            return data, None
        return data, json.dumps(data, allow_nan=False)
    except (ValueError, TypeError, PydanticSerializationError):
        return None


def unstorable_message(value: Any) -> str:
    """Why a tool's result failed its task instead of reaching the log."""
    return (
        f"the tool returned a {type(value).__name__} that is not JSON data (or NaN/Infinity); "
        "return numbers, strings, booleans, lists or dicts"
    )


def finite(value: Any, depth: int = 0) -> bool:
    """No NaN or Infinity anywhere in `value` (JSON has neither; pydantic would write null)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if depth > 64:
        return True
    if isinstance(value, dict):
        return all(finite(v, depth + 1) for v in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return all(finite(v, depth + 1) for v in value)
    return True


PLAIN_DEPTH = 4


def plain(value: Any, depth: int = 0) -> bool:
    """JSON-safe without trying: small ints, finite floats, strings, and shallow
    lists/dicts of them (a huge int or a NaN is not)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-(10**15) < value < 10**15)
    if kind is float:
        return math.isfinite(value)
    if depth >= PLAIN_DEPTH:
        return False
    if kind is list:
        return all(plain(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and plain(v, depth + 1) for k, v in value.items())
    return False


def jsonable(value: Any) -> Any:
    """A value as JSON data, the way outcomes are logged (repr for the unknown)."""
    return _ANY.dump_python(value, mode="json", fallback=repr)


_ANY: TypeAdapter[Any] = TypeAdapter(Any)


__all__ = ["dump_outcome", "finite", "jsonable", "plain", "storable", "unstorable_message"]
