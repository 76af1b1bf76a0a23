"""A baseline whose model call fails ends failed and says why, in every mode."""

from __future__ import annotations

import pytest

from modes._helpers import MakeOrch
from veritask.errors import ModelError
from veritask.types import AnswerStatus


@pytest.mark.parametrize("mode", ["static", "single-agent"])
def test_a_failed_model_call_fails_the_answer_and_names_the_error(
    scripted: MakeOrch, mode: str
) -> None:
    failure = ModelError("upstream said no", retryable=False)
    orch, _ = scripted([failure] * 8)
    answer = orch.run("What is the capital of Chile?", mode=mode).answer
    assert answer is not None
    assert answer.status is AnswerStatus.FAILED
    assert "The model failed, so there is no answer" in answer.text
    assert "upstream said no" in answer.text
    assert any("failed: " in gap and "upstream said no" in gap for gap in answer.gaps)
