"""The assembler: task outcomes → an Answer that cites its evidence and names its gaps."""

from __future__ import annotations

from veritask.assembler.template import assemble_from_template

__all__ = ["assemble_from_template"]
