"""The README's "Bring your own tools" example works as printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from veritask import Orchestrator, Toolkit
from veritask.models import ScriptedModel

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    section = text[text.index("## Bring your own tools") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the section has a Python example"
    return match.group(1)


def defined_toolkit() -> Toolkit:
    """Everything in the example up to the question (the embedded model is not needed)."""
    code = readme_example().split("result = Orchestrator(")[0]
    scope: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), scope)
    shop = scope["shop"]
    assert isinstance(shop, Toolkit)
    return shop


def test_the_readme_toolkit_answers_its_question_from_its_own_tool() -> None:
    shop = defined_toolkit()
    plan = (
        '1. product("Widget")\n2. product("Gadget")\n'
        '3. calc("$1.price_usd + $2.price_usd")\n'
        "Answer: A Widget and a Gadget cost {$3} US dollars together.\n"
    )
    orch = Orchestrator(
        "memory://", model=ScriptedModel(default=plan), toolkits=[shop], memory=False
    )
    result = orch.run("What do a Widget and a Gadget cost together?")
    assert result.answer is not None and result.answer.status.value == "answered"
    assert result.answer.value == pytest.approx(23.25)
    assert {o.evidence[0].tool for o in result.outcomes.values()} == {"product", "calc"}


@pytest.mark.integration
def test_the_readme_example_runs_on_the_embedded_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("llama_cpp")
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(readme_example(), str(README), "exec"), scope)
    result = scope["result"]
    answer = result.answer  # type: ignore[attr-defined]
    assert answer.status.value in ("answered", "partial", "abstained")
    if answer.status.value == "answered":
        assert answer.value == pytest.approx(23.25)
