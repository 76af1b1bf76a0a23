"""The built-in `calc` tool: arithmetic only, every bad input a clear non-retryable error."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from veritask.errors import ToolError
from veritask.tools import default_registry
from veritask.tools.builtin.calc import evaluate


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("67750000 + 48370000", 116120000),
        ("(67750000 + 48370000) / 2", 58060000.0),
        ("7 // 2", 3),
        ("7 % 4", 3),
        ("-3 + +2", -1),
        ("2 ** 10", 1024),
        ("round(2.567, 2)", 2.57),
        ("max(1, 5, 3) - min(4, 2)", 3),
        ("sqrt(16)", 4.0),
        ("abs(-2.5)", 2.5),
        ("round(pi, 3)", 3.142),
    ],
)
def test_arithmetic(expression: str, value: float) -> None:
    assert evaluate(expression) == pytest.approx(value)


@pytest.mark.parametrize(
    "expression",
    [
        "1 / 0",
        "__import__('os').system('true')",
        "open('/etc/passwd')",
        "(1).__class__",
        "x + 1",
        "'a' * 3",
        "[1, 2]",
        "1 < 2",
        "",
        "1 +",
        "1" * 501,
        "log(-1)",
        "exp(1000)",
    ],
)
def test_bad_expressions_are_invalid_input(expression: str) -> None:
    with pytest.raises(ToolError) as info:
        evaluate(expression)
    assert info.value.kind == "InvalidInput" and not info.value.retryable


def test_result_is_a_finite_number() -> None:
    assert math.isfinite(evaluate("1e300 + 1"))
    with pytest.raises(ToolError, match="not finite"):
        evaluate("1e308 * 10")


def test_calc_is_registered_idempotent_with_a_timeout() -> None:
    spec = default_registry().get("calc")
    assert spec.idempotent and spec.timeout_s is not None
    assert spec.required_params == ["expression"]


def test_enormous_powers_are_refused_quickly() -> None:
    expression = "9 ** 9 ** 9"
    # Run in a child: a big-int power holds the GIL, so a hang here would freeze the suite.
    code = (
        "from veritask.errors import ToolError\n"
        "from veritask.tools.builtin.calc import evaluate\n"
        "try:\n"
        f"    evaluate({expression!r})\n"
        "except ToolError as exc:\n"
        "    print(exc.kind)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=10
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"calc({expression!r}) was still computing after 10 seconds")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "InvalidInput"


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("round(1, -10**8)", "round() takes between"),
        ("'a' * 10**8", "numbers only"),
        ("*".join(["10**300"] * 60), "more than 308 digits"),
    ],
)
def test_every_expression_is_bounded_in_time_and_memory(expression: str, fragment: str) -> None:
    """Each of these ran for minutes, took 600 MB or crashed the run before."""
    with pytest.raises(ToolError) as info:
        evaluate(expression)
    assert fragment in str(info.value)
    assert len(str(info.value)) < 700
