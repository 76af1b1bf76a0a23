"""`larger` and `smaller`: pick which of two named quantities is bigger or smaller.

"Which has more X, A or B?" is answered with a name, not a number; letting
a tool make the comparison keeps it out of the model's hands, and the
evidence shows both values that were compared.
"""

from __future__ import annotations

from veritask.errors import ToolError
from veritask.tools import tool
from veritask.tools.registry import ToolResult
from veritask.types import Source


def _pick(
    tool: str, first: str, first_value: float, second: str, second_value: float, larger: bool
) -> str:
    """The winner of one comparison, with both compared values as its evidence."""
    if first == second:
        raise ToolError(f"both sides are {first!r}; compare two different things")
    if first_value == second_value:
        raise ToolError(
            f"{first} and {second} have the same value ({first_value:g}); neither is {tool}",
            kind="Tie",
        )
    first_wins = first_value > second_value if larger else first_value < second_value
    evidence = Source(
        tool=tool,
        query={"first": first, "second": second},
        fields={first: first_value, second: second_value},
    )
    return ToolResult(first if first_wins else second, [evidence])  # type: ignore[return-value]


@tool(name="larger", idempotent=True, timeout_s=5, inline=True)
def larger(first: str, first_value: float, second: str, second_value: float) -> str:
    """Name of whichever of two things has the larger value, e.g. the more expensive product.

    Args:
        first: name of the first thing, usually "$1.name".
        first_value: its value, usually "$1.price".
        second: name of the second thing, usually "$2.name".
        second_value: its value, usually "$2.price".
    """
    return _pick("larger", first, first_value, second, second_value, larger=True)


@tool(name="smaller", idempotent=True, timeout_s=5, inline=True)
def smaller(first: str, first_value: float, second: str, second_value: float) -> str:
    """Name of whichever of two things has the smaller value, e.g. the cheaper product.

    Args:
        first: name of the first thing, usually "$1.name".
        first_value: its value, usually "$1.price".
        second: name of the second thing, usually "$2.name".
        second_value: its value, usually "$2.price".
    """
    return _pick("smaller", first, first_value, second, second_value, larger=False)
