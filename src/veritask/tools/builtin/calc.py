"""`calc`: safe arithmetic for combining looked-up numbers.

Plans compute with `calc` instead of asking a model to do arithmetic. It is
evaluated with simpleeval over a whitelist of operators and functions, never
`eval`, so an expression built from model output cannot run code.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

from simpleeval import SimpleEval

from veritask.errors import ToolError
from veritask.tools import tool

_FUNCTIONS: dict[str, Any] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "radians": math.radians,
    "degrees": math.degrees,
    "sum": sum,
}
_OPERATORS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: lambda a, b: _safe_pow(a, b),
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_MAX_EXPR = 500
_MAX_EXPONENT = 1024
_MAX_DIGITS = 308


def _safe_pow(base: float, exponent: float) -> float:
    """`base ** exponent`, refused before it can take the process down: `9 ** 9 ** 9`
    holds the interpreter lock for hours, and no timeout can interrupt it."""
    if abs(exponent) > _MAX_EXPONENT:
        raise ToolError(
            f"exponent {exponent:g} is too large (limit {_MAX_EXPONENT})", kind="InvalidInput"
        )
    if base not in (0, 1, -1) and abs(exponent) * math.log10(abs(base)) > _MAX_DIGITS:
        raise ToolError(
            f"{base:g} ** {exponent:g} has more than {_MAX_DIGITS} digits", kind="InvalidInput"
        )
    result: float = base**exponent
    return result


def evaluate(expression: str) -> float | int:
    """Evaluate an arithmetic expression; raises ToolError (non-retryable) when invalid."""
    if len(expression) > _MAX_EXPR:
        raise ToolError(f"expression longer than {_MAX_EXPR} characters", kind="InvalidInput")
    evaluator = SimpleEval(
        operators=_OPERATORS,
        functions=_FUNCTIONS,
        names={"pi": math.pi, "e": math.e},
    )
    try:
        result = evaluator.eval(expression)
    except ZeroDivisionError:
        raise ToolError(f"division by zero in {expression!r}", kind="InvalidInput") from None
    except Exception as exc:
        raise ToolError(
            f"cannot evaluate {expression!r}: {exc}. Use numbers, + - * / // % ** and "
            f"{', '.join(sorted(_FUNCTIONS))}",
            kind="InvalidInput",
        ) from None
    if isinstance(result, bool) or not isinstance(result, int | float):
        raise ToolError(f"{expression!r} is not a number (got {result!r})", kind="InvalidInput")
    if isinstance(result, float) and not math.isfinite(result):
        raise ToolError(f"{expression!r} is not finite", kind="InvalidInput")
    return result


@tool(name="calc", idempotent=True, timeout_s=5, inline=True)
def calc(expression: str) -> float:
    """Evaluate an arithmetic expression such as "(67750000 + 48370000) / 2".

    Args:
        expression: numbers and task references joined by + - * / ** and sqrt, round, min, max.
    """
    return evaluate(expression)
