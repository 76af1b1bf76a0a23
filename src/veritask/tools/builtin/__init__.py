"""Built-in tools, registered into the default registry on import."""

from __future__ import annotations

from veritask.tools.builtin import calc as calc

__all__ = ["calc"]
