"""Helpers for the baseline-mode tests: the scripted orchestrator factory and geo facts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from veritask import Orchestrator
from veritask.models import ScriptedCall, ScriptedModel
from veritask.toolkits.geo.tools import country_facts
from veritask.tools.registry import ToolResult

MakeOrch = Callable[..., tuple[Orchestrator, ScriptedModel]]


def make_scripted(script: Iterable[Any], **kwargs: Any) -> tuple[Orchestrator, ScriptedModel]:
    """An orchestrator on an in-memory store whose model answers from `script`.

    Text answers carry fake token logprobs of 0.8 per token, so confidence
    from logprobs can be checked exactly.
    """
    model = ScriptedModel(script, token_prob=0.8)
    kwargs.setdefault("store", "memory://")
    return Orchestrator(model=model, memory=False, **kwargs), model


def population(country: str) -> int:
    """The population the geo tool reports (the source of truth the tests compare to)."""
    result = country_facts(country)
    value = result.value if isinstance(result, ToolResult) else result
    return int(value["population"])


def last_observation(call: ScriptedCall) -> Any:
    """The JSON value of the newest `Observation:` the model was shown."""
    match = re.match(r"Observation: (.*)", call.prompt, re.DOTALL)
    assert match, f"the last message is not an observation: {call.prompt!r}"
    return json.loads(match.group(1))
