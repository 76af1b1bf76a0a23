"""Core tools every toolkit can use: safe arithmetic (`calc`) and `larger`.

They know no domain: a plan that combines looked-up numbers computes with
them instead of asking a model. Registered into the default registry on import.
"""

from __future__ import annotations

from veritask.tools.builtin import calc as calc
from veritask.tools.builtin import compare as compare

__all__ = ["calc", "compare"]
