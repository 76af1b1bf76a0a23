"""Both baselines with the real embedded model (SmolLM2-135M).

The model is weak, so correctness is not asserted: only that a run
completes, logs its tool calls, and either answers or abstains saying why.
"""

from __future__ import annotations

import pytest

from veritask import Orchestrator
from veritask.types import AnswerStatus, RunStatus

QUESTION = "What is the combined population of Mexico and Morocco?"


@pytest.fixture
def orch() -> Orchestrator:
    return Orchestrator(store="memory://", model="local:smollm2-135m", memory=False)


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["single-agent", "static"])
async def test_real_model_run_completes(orch: Orchestrator, mode: str) -> None:
    result = await orch.arun(QUESTION, mode=mode)

    answer = result.answer
    assert answer is not None and result.status is not RunStatus.RUNNING
    assert answer.status in (AnswerStatus.ANSWERED, AnswerStatus.ABSTAINED), answer
    if answer.status is AnswerStatus.ABSTAINED:
        assert answer.gaps, "an abstention must say why"
    else:
        assert answer.text.strip()
    assert result.usage.model_calls >= 1
    for tid, outcome in result.outcomes.items():
        assert tid[0] == ("a" if mode == "single-agent" else "s")
        assert outcome.evidence, tid
