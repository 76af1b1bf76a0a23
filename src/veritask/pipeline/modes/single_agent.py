"""The single-agent baseline: one model in a bounded ReAct loop over the same tools.

This is what veritask is measured against, so it is built to be fair, not
weak: the prompt carries the tool catalog and a worked example of the loop,
every turn is grammar-constrained so it parses (the same help the planner
gets), tool calls go through the same worker, timeouts and budget as an
orchestrated task, and errors come back as observations the model can work
around. What it deliberately lacks is everything veritask adds on top: no
validated plan, no grounding check of the final answer, no escalation.

The loop ends with a final answer (`answered`), or abstains when it hits
the step cap, repeats a call (a loop) or spends the run's budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from veritask.errors import BudgetExceeded, ModelError
from veritask.models.base import Completion, Message, assistant, user
from veritask.pipeline.modes._common import (
    MODEL_KIND,
    ToolCalls,
    answer_confidence,
    model_failed,
    note_budget,
    parse_value,
)
from veritask.pipeline.modes.react import messages_for, observation_text, parse_turn, turn_grammar
from veritask.types import NO_CONFIDENCE, Answer, AnswerStatus, Claim

if TYPE_CHECKING:
    from veritask.pipeline.orchestrator import Orchestrator
    from veritask.runtime.eventlog import EventLog


@dataclass(frozen=True)
class AgentSettings:
    """Bounds of one ReAct episode."""

    max_steps: int = 6
    """Model turns at most; an episode without a final answer by then abstains."""
    max_tokens: int = 120
    temperature: float = 0.0
    observation_chars: int = 600
    """Observations longer than this are cut (a 135M model has a 4k-token window)."""
    example: bool = True
    """Show the worked example episode before the question."""
    kind: str = MODEL_KIND
    """The route the model is chosen by: `plan` for the baseline mode (the planner's
    model, a fair comparison), `deep` when the loop is an escalation rung."""


@dataclass
class _Episode:
    """What the loop has learned so far; only the loop mutates it."""

    messages: list[Message]
    observed: list[Any]
    seen_calls: set[str]
    errors: list[str] = field(default_factory=list)
    steps: int = 0


async def run_single_agent(
    question: str,
    orch: Orchestrator,
    log: EventLog,
    settings: AgentSettings | None = None,
) -> Answer:
    """Answer `question` with a ReAct loop; tool calls are logged as tasks a1, a2..."""
    s = settings or AgentSettings()
    calls = ToolCalls(orch, log, prefix="a")
    episode = _Episode(messages_for(question, orch.registry, example=s.example), [], set())
    try:
        return await _loop(question, orch, log, calls, episode, s)
    finally:
        await calls.aclose()


async def _loop(
    question: str,
    orch: Orchestrator,
    log: EventLog,
    calls: ToolCalls,
    episode: _Episode,
    s: AgentSettings,
) -> Answer:
    stop = f"no final answer within {s.max_steps} steps"
    try:
        while episode.steps < s.max_steps:
            episode.steps += 1
            completion = await orch.router.acomplete(
                s.kind,
                episode.messages,
                grammar=turn_grammar(question, orch.registry, episode.observed, episode.errors),
                max_tokens=s.max_tokens,
                temperature=s.temperature,
                logprobs=True,
            )
            turn = parse_turn(completion.text, orch.registry)
            episode.messages.append(assistant(completion.text.strip()))
            if turn.final is not None:
                return _answered(turn.final, turn.final_span, completion, calls, episode)
            if turn.problem is not None or turn.tool is None:
                episode.messages.append(user(f"Observation: Error: {turn.problem}"))
                continue
            if turn.call_key in episode.seen_calls:
                stop = f"the agent repeated {turn.call_text}; stopped to break the loop"
                break
            episode.seen_calls.add(turn.call_key)
            outcome = await calls.call(turn.tool, turn.args or {})
            if outcome.ok:
                episode.observed.append(outcome.value)
                seen = observation_text(outcome.value, s.observation_chars)
            else:
                seen = f"Error: {outcome.error.message if outcome.error else 'the call failed'}"
                episode.errors.append(seen)
            episode.messages.append(user(f"Observation: {seen}"))
    except BudgetExceeded as exc:
        stop = note_budget(log, exc)
    except ModelError as exc:
        failed = model_failed(exc, f"model call {episode.steps} failed")
        return failed.model_copy(update={"gaps": [*failed.gaps, *calls.gaps()]})
    return Answer(
        text=f"I could not reach an answer ({stop}), so I will not guess.",
        status=AnswerStatus.ABSTAINED,
        confidence=NO_CONFIDENCE,
        gaps=[stop, *calls.gaps()],
    )


def _answered(
    text: str,
    span: tuple[int, int] | None,
    completion: Completion,
    calls: ToolCalls,
    episode: _Episode,
) -> Answer:
    # The answer's own tokens, not an earlier mention of the same words in the Thought.
    confidence = answer_confidence(completion, span or text)
    signals = {**confidence.signals, "steps": episode.steps, "tool_calls": len(calls.outcomes)}
    return Answer(
        text=text,
        value=parse_value(text),
        status=AnswerStatus.ANSWERED,
        confidence=confidence.model_copy(update={"signals": signals}),
        claims=[Claim(text=text, task_ids=calls.succeeded_ids)],
        gaps=calls.gaps(),
    )


__all__ = ["AgentSettings", "run_single_agent"]
