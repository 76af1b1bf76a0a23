"""Values summarised to one line of a given width, for tables on a terminal.

A task's value can be a dozen fields, a 50 MB string or a structure nested
hundreds deep. Cutting its JSON at a fixed number of characters shows the
first field and a half and hides the shape; wrapping it turns a 3-task run
into 90 lines. `summarise` instead keeps the shape and as many whole items
as the width allows, then says how many it left out:

    >>> summarise({"name": "France", "iso": "FR", "population": 66987244}, 30)
    'name=France, iso=FR, … +1 more'

It never walks more of a value than it shows (a 50 MB string or a 10,000-item
list costs the same as a short one), never recurses deeper than a few levels,
and hides credentials like `veritask.redact` does: values under secret-looking
names, and credential-shaped strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from veritask.redact import MASK, is_secret_name, redact_text

_MAX_DEPTH = 4
_SLACK = 200
"""Characters read past the cut, so a credential straddling it is still recognised."""


def summarise(value: Any, width: int) -> str:
    """`value` on one line of at most `width` characters (at least 1), shape kept."""
    width = max(1, width)
    text = _render(value, width, depth=0, top=True)
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def one_line(text: str, width: int) -> str:
    """`text` with its whitespace collapsed, cut to `width` with a trailing `…`."""
    return summarise(str(text), width)


def _render(value: Any, width: int, *, depth: int, top: bool = False) -> str:
    if isinstance(value, str):
        return _text(value, width, quoted=not top and _needs_quotes(value))
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int):
        if value.bit_length() < 3000:  # str() of a huge int is slow, and limited by Python
            return _text(str(value), width, quoted=False)
        return f"<integer of about {int(value.bit_length() * 0.30103):,} digits>"
    if isinstance(value, float):
        return f"{value:.10g}"  # 66987244.0 reads as 66987244, not 6.69872e+07
    if isinstance(value, Mapping):
        return _container(value, width, depth, top, mapping=True)
    if isinstance(value, list | tuple):
        return _container(value, width, depth, top, mapping=False)
    return _text(str(value), width, quoted=False)


def _needs_quotes(text: str) -> bool:
    """Quotes only where the text would otherwise read as punctuation of the summary."""
    return not text or any(c in text for c in ",=[]{}") or text != text.strip()


def _text(value: str, width: int, *, quoted: bool) -> str:
    window = " ".join(value[: width + _SLACK].split())
    window = redact_text(window)
    room = width - (2 if quoted else 0)
    if len(window) > room or len(value) > width + _SLACK:
        note = f" ({len(value):,} chars)"
        if len(value) <= 2 * width + _SLACK or room < len(note) + 12:
            note = ""  # only worth its room when much is hidden and room is left
        keep = max(1, room - 1 - len(note))
        window = window[:keep] + "…" + note
    return f'"{window}"' if quoted else window


def _container(value: Any, width: int, depth: int, top: bool, *, mapping: bool) -> str:
    open_, close = ("", "") if top else (("{", "}") if mapping else ("[", "]"))
    size = len(value)
    if size == 0:
        return "{}" if mapping else "[]"
    if depth >= _MAX_DEPTH or width < 8:
        return _count(size, mapping, open_, close)
    items = iter(value.items()) if mapping else ((None, v) for v in value)
    parts: list[str] = []
    used = len(open_) + len(close)
    for shown, (key, item) in enumerate(items):
        after = size - shown - 1
        reserve = len(f", … +{after} more") if after else 0
        room = width - used - (2 if parts else 0) - reserve
        prefix = f"{key}=" if mapping else ""
        if mapping and is_secret_name(str(key)) and isinstance(item, str):
            item = MASK if item and not item.startswith("$env:") else item
        piece = prefix + _render(item, max(1, room - len(prefix)), depth=depth + 1)
        # A later item that had to be cut is better counted than shown in part.
        if len(piece) > room or (parts and "…" in piece):
            if not parts:
                return _count(size, mapping, open_, close)
            parts.append(f"… +{after + 1} more")
            break
        parts.append(piece)
        used += len(piece) + (2 if len(parts) > 1 else 0)
    return open_ + ", ".join(parts) + close


def _count(size: int, mapping: bool, open_: str, close: str) -> str:
    what = ("field" if mapping else "item") + ("s" if size != 1 else "")
    return f"{open_}{size} {what}{close}"


__all__ = ["one_line", "summarise"]
