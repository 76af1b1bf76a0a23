"""The README's model-worker example runs and prints what it says it prints."""

from __future__ import annotations

import contextlib
import io
import itertools
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_escalation_example_prints_its_comments() -> None:
    text = README.read_text()
    section = text[text.index("## Model workers and per-task escalation") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the section has a Python example"
    code = match.group(1)
    lines = code.splitlines()
    # The comment right after a print is what it prints.
    pairs = itertools.pairwise(lines)
    expected = [b[2:] for a, b in pairs if "print(" in a and b.startswith("# ")]
    assert len(expected) == 2
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {})
    assert out.getvalue().splitlines() == expected
