"""The last rung: a bounded deep agent, whose answer must pass the grounding check.

When no valid plan could be made, a small ReAct agent with the same tools
gets a few steps (the single-agent loop, with a tighter cap and its own
share of the budget). Its free-text answer is a model's words, so it is
only accepted if every number and name in it traces to one of its own
look-ups (a computation counts only on looked-up numbers), and if it looked
up every name the question gives; otherwise the run abstains as it would
have without the rung.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from veritask.assembler.grounding import check, facts
from veritask.escalation.ladder import Attempt
from veritask.models.local import resolve_model_path, smollm2_path
from veritask.pipeline.modes._common import MODEL_KIND
from veritask.planner.question_text import name_runs, question_sentence, spelled_in
from veritask.types import Answer, AnswerStatus, Confidence, ConfidenceMethod, Outcome

if TYPE_CHECKING:
    from veritask.pipeline.orchestrator import Orchestrator
    from veritask.runtime.eventlog import EventLog

DEEP_AGENT_STEPS = 4
DEEP_AGENT_CEILING = 0.75
"""A grounded agent answer is trusted less than a validated, agreed plan."""


_NUMBER = re.compile(r"(?<![\w.$])-?\d[\d,]*(?:\.\d+)?")
COMPUTING_TOOLS = frozenset({"calc", "larger", "smaller"})


def sourced(outcomes: list[Outcome], question: str = "") -> list[Outcome]:
    """The outcomes an agent answer may be grounded in: every look-up, and a computation
    only when every number it used came from a look-up or the question.

    An agent can compute with a number it made up (`calc("111.11")`); the result
    is then "in a tool's result" without coming from any source of truth.
    """
    looked_up = [o for o in outcomes if _tool(o) not in COMPUTING_TOOLS]
    known, _ = facts(looked_up)
    known += [float(n.replace(",", "")) for n in _NUMBER.findall(question)]
    out = list(looked_up)
    for o in outcomes:
        if _tool(o) not in COMPUTING_TOOLS:
            continue
        query = " ".join(str(v) for e in o.evidence for v in e.query.values())
        used = [float(n.replace(",", "")) for n in _NUMBER.findall(query)]
        if used and all(any(abs(u - k) <= 1e-9 * max(1.0, abs(k)) for k in known) for u in used):
            out.append(o)
    return out


def unseen_names(question: str, outcomes: list[Outcome]) -> list[str]:
    """Names the question gives that no looked-up outcome is about: an answer about
    "Cable Ties and Batteries" that looked up only the batteries answers something else."""
    seen = " ".join(
        json.dumps([e.query for e in o.evidence] + [o.value], ensure_ascii=False, default=str)
        for o in outcomes
    )
    names = [" ".join(run) for run in name_runs(question_sentence(question))]
    return [n for n in names if not any(spelled_in(part, seen) for part in _parts(n))]


def _parts(name: str) -> list[str]:
    """A listed name ("Sri Lanka and Dominica") is several; a single one is itself."""
    pieces = [p.strip() for p in name.split(" and ") if p.strip()]
    return [name, *pieces] if len(pieces) > 1 else [name]


def _tool(outcome: Outcome) -> str:
    return outcome.evidence[0].tool if outcome.evidence else ""


def refusal(answer: Answer, outcomes: list[Outcome], question: str) -> str:
    """Why an agent's answer cannot be kept ('' when it can): no answer, nothing looked up,
    a number or name not in its own (sourced) tool results, or a name it never looked up."""
    if answer.status is not AnswerStatus.ANSWERED:
        return "; ".join(answer.gaps) or "the agent gave no answer"
    if not outcomes:
        return "the agent looked nothing up, so its answer has no source"
    grounding = check(answer.text, outcomes, question)
    if not grounding.ok:
        return "its answer is not grounded in its tool results: " + "; ".join(grounding.problems())
    unseen = unseen_names(question, outcomes)
    if unseen:
        return f"it looked up nothing about {', '.join(unseen)}"
    return ""


def agent_kind(orch: Orchestrator) -> str:
    """The route a deep agent's model is chosen by: `deep` when it is routed, else the
    planner's (`plan`) as before the `deep` kind was used."""
    return "deep" if orch.router.settings.routes.get("deep") else MODEL_KIND


def not_worth_it(orch: Orchestrator) -> str:
    """Why the rung is skipped for a question no plan passed ('' when it runs): the
    `unplanned_agent` setting, and in `auto` an agent whose every model is the
    embedded SmolLM2 file — which has just failed to plan the question when it is
    the planner's model too."""
    mode = orch.settings.unplanned_agent
    if mode == "never":
        return "unplanned_agent is 'never'"
    if mode == "always":
        return ""
    if all(_is_embedded(name, orch) for name in orch.router.chain(agent_kind(orch))):
        return (
            "the agent would run on the embedded SmolLM2 model, which rescued no such "
            "question on the benchmark suites; route `deep` to a stronger model, or set "
            "unplanned_agent = 'always'"
        )
    return ""


def _is_embedded(name: str, orch: Orchestrator) -> bool:
    if not name.startswith("local:"):
        return False
    try:
        settings = orch.router.settings
        return resolve_model_path(name.removeprefix("local:"), settings) == smollm2_path()
    except Exception:  # a missing file is the router's error to report, not ours
        return False


def capped(answer: Answer, rung: str) -> Confidence:
    """A grounded agent answer's confidence: the agent's own, at most DEEP_AGENT_CEILING."""
    score = min(DEEP_AGENT_CEILING, answer.confidence.score)
    return Confidence(
        score=score,
        method=ConfidenceMethod.COMPOSITE,
        signals={"agent": answer.confidence.score, "grounding": "ok", "rung": rung},
    )


async def deep_agent(question: str, orch: Orchestrator, log: EventLog) -> Attempt[Answer]:
    """Run the bounded agent; return its answer only if it is grounded in its tool results."""
    from veritask.pipeline.modes.single_agent import AgentSettings, run_single_agent
    from veritask.runtime.state import fold

    settings = AgentSettings(max_steps=DEEP_AGENT_STEPS, kind=agent_kind(orch))
    answer = await run_single_agent(question, orch, log, settings)
    log.flush()
    outcomes = sourced(
        [o for o in fold(log.store.events(log.run_id)).outcomes.values() if o.ok], question
    )
    if refusal(answer, outcomes, question):
        return Attempt(None, 0.0)
    confidence = capped(answer, "deep_agent")
    return Attempt(answer.model_copy(update={"confidence": confidence}), confidence.score)
