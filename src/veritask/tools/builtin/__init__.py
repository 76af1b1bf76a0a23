"""Built-in tools, registered into the default registry on import."""

from __future__ import annotations

from veritask.tools.builtin import calc as calc
from veritask.tools.builtin import compare as compare
from veritask.tools.builtin import geo as geo

__all__ = ["calc", "compare", "geo"]
