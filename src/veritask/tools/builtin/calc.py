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
    "round": lambda *a: _round(*a),
    "min": lambda *a: _many(min)(*a),
    "max": lambda *a: _many(max)(*a),
    "sqrt": math.sqrt,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "radians": math.radians,
    "degrees": math.degrees,
    "sum": lambda *a: _many(sum)(*a),
}
_MAX_EXPR = 500
_MAX_EXPONENT = 1024
_MAX_DIGITS = 308
_MAX_MAGNITUDE = 10**_MAX_DIGITS
_MAX_ARGS = 1000


def _number(value: Any) -> float | int:
    """Only numbers enter arithmetic: `'a' * 10**8` would build a 100 MB string."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError(f"calc works on numbers only, got {_short(value)}", kind="InvalidInput")
    return value


def _bounded(value: Any) -> Any:
    """A result no larger than 10**308: a product of sixty 10**300 must stop at the second."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_MAGNITUDE:
        raise ToolError(f"a result has more than {_MAX_DIGITS} digits", kind="InvalidInput")
    return value


def _binary(op: Any) -> Any:
    return lambda a, b: _bounded(op(_number(a), _number(b)))


def _unary(op: Any) -> Any:
    return lambda a: op(_number(a))


def _round(value: Any, ndigits: Any = None) -> Any:
    """`round` with its digits bounded: `round(1, -10**8)` runs for minutes otherwise."""
    if ndigits is not None:
        ndigits = _number(ndigits)
        if not isinstance(ndigits, int) or abs(ndigits) > _MAX_DIGITS:
            raise ToolError(
                f"round() takes between -{_MAX_DIGITS} and {_MAX_DIGITS} digits",
                kind="InvalidInput",
            )
    return round(_number(value), ndigits)


def _many(fn: Any) -> Any:
    def call(*args: Any) -> Any:
        values = list(args[0]) if len(args) == 1 and isinstance(args[0], list | tuple) else args
        if len(values) > _MAX_ARGS:
            raise ToolError(f"at most {_MAX_ARGS} values", kind="InvalidInput")
        return _bounded(fn([_number(v) for v in values]))

    return call


def _short(value: Any, limit: int = 80) -> str:
    """A bounded description of any value: never echo (or even format) a huge one."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_MAGNITUDE:
        return f"an integer of more than {_MAX_DIGITS} digits"
    text = repr(value) if len(str(type(value))) < 200 else type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


_OPERATORS: dict[type, Any] = {
    ast.Add: _binary(operator.add),
    ast.Sub: _binary(operator.sub),
    ast.Mult: _binary(operator.mul),
    ast.Div: _binary(operator.truediv),
    ast.FloorDiv: _binary(operator.floordiv),
    ast.Mod: _binary(operator.mod),
    ast.Pow: lambda a, b: _bounded(_safe_pow(_number(a), _number(b))),
    ast.USub: _unary(operator.neg),
    ast.UAdd: _unary(operator.pos),
}


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
    if not isinstance(expression, str):
        raise ToolError(
            f"the expression must be text, got {_short(expression)}", kind="InvalidInput"
        )
    if len(expression) > _MAX_EXPR:
        raise ToolError(f"expression longer than {_MAX_EXPR} characters", kind="InvalidInput")
    evaluator = SimpleEval(
        operators=_OPERATORS,
        functions=_FUNCTIONS,
        names={"pi": math.pi, "e": math.e},
    )
    try:
        result = evaluator.eval(expression)
    except ToolError:
        raise
    except ZeroDivisionError:
        raise ToolError(f"division by zero in {expression!r}", kind="InvalidInput") from None
    except Exception as exc:
        raise ToolError(
            f"cannot evaluate {expression!r}: {_short(str(exc), 200)}. Use numbers, "
            f"+ - * / // % ** and {', '.join(sorted(_FUNCTIONS))}",
            kind="InvalidInput",
        ) from None
    if isinstance(result, bool) or not isinstance(result, int | float):
        raise ToolError(
            f"{expression!r} is not a number (got {_short(result)})", kind="InvalidInput"
        )
    _bounded(result)
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
