"""Plans from memory: answer a question of a known shape without asking the model.

Episodic memory keeps the plans that answered well, abstracted
("What do a X and a Y cost together?"). Before the planner samples anything,
`recall` looks for such an episode whose shape the new question has, fills
in the question's own entities (`veritask.memory.recall.fit`), and puts the
filled plan through the same gate as a sampled one: plan validation, the
planner's relevance checks (out of scope, fields, operations, arguments
spelled in the question) and, after the run, the assembler's grounding
check. A plan that passes runs with zero model calls; one that does not is
simply not used — the planner plans the question as if memory had nothing.

What makes an episode reusable: stored by a run that *answered* (so its
answer was grounded) with confidence at least `REUSE_AT`, and not demoted.
After the run, `settle` counts the reuse as a hit when the answer is again
answered at `REUSE_AT` or better; any other ending (a failed task, a gap, an
abstention, an ungrounded or low-confidence answer) demotes the episode, so
the next question of that shape goes to the planner (see
`veritask.memory.episodic` for how it is promoted again).

Provenance: the `PlanAccepted` event says ``"source": "memory"`` and names
the episode and the entities put in; the answer's confidence carries
``plan_source: "memory"`` in its signals; its plan confidence is the
episode's (the best answer confidence it reached), never more than the
planner's best.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from veritask.errors import VeritaskError
from veritask.memory.episodic import Episode
from veritask.memory.recall import fit
from veritask.plan.validation import validate_plan
from veritask.planner.checks import relevance_problems
from veritask.planner.planner import PlanningResult
from veritask.planner.question_text import question_spans
from veritask.types import Answer, AnswerStatus, Plan

if TYPE_CHECKING:
    from veritask.planner.planner import Planner

log = logging.getLogger(__name__)

REUSE_AT = 0.9
"""An episode is reused only when it answered at least this confidently, and a reuse
counts as a hit only when it does again (the same bar as being remembered)."""
CANDIDATES = 5
"""How many of the most similar episodes are tried, best first."""


@runtime_checkable
class ReusableMemory(Protocol):
    """What reuse needs from episodic memory (`PlanMemory` has it; a custom one may not)."""

    def similar(self, question: str, k: int = 3, *, reusable_only: bool = False) -> list[Any]: ...

    def record_reuse(
        self, key: str, *, succeeded: bool, run_id: str = "", reason: str = ""
    ) -> None: ...


@dataclass(frozen=True)
class Recalled:
    """A remembered plan, filled in for this question and past every check."""

    plan: Plan
    episode: Episode
    entities: dict[str, str]
    numbers: dict[str, str] = field(default_factory=dict)

    @property
    def confidence(self) -> float:
        return self.episode.confidence

    def planning_result(self) -> PlanningResult:
        """As the planner would return it: no votes, no samples — none were drawn."""
        return PlanningResult(self.plan, self.confidence, 0, [])

    def provenance(self) -> dict[str, Any]:
        """What `PlanAccepted` records about where the plan came from."""
        return {
            "source": "memory",
            "episode": {
                "key": self.episode.key,
                "question": self.episode.question,
                "abstract_question": self.episode.abstract_question,
                "uses": self.episode.uses,
                "hits": self.episode.hits,
                "run_id": self.episode.run_id,
            },
            "entities": self.entities,
            **({"numbers": self.numbers} if self.numbers else {}),
        }


@dataclass(frozen=True)
class Recall:
    """What memory offered for a question: a plan to run, and the fits it refused."""

    hit: Recalled | None = None
    refused: list[dict[str, Any]] = field(default_factory=list)
    """Episodes whose shape fit but whose filled plan failed a check, with the problems."""


def recall(memory: object, planner: Planner, question: str) -> Recall:
    """The best remembered plan for `question` that passes the planner's checks, if any.

    Never raises for memory trouble: an unreadable memory file is a miss (logged),
    because memory only ever saves time.
    """
    if not isinstance(memory, ReusableMemory):
        return Recall()
    try:
        episodes = memory.similar(question, CANDIDATES, reusable_only=True)
    except VeritaskError as exc:
        log.warning("plan memory not read, planning without it: %s", exc)
        return Recall()
    refused: list[dict[str, Any]] = []
    spans: list[str] | None = None
    for episode in episodes:
        if not isinstance(episode, Episode) or episode.confidence < REUSE_AT:
            continue
        filled = fit(episode, question)
        if filled is None:
            continue
        if spans is None:
            spans = question_spans(question)
        problems = _problems(planner, question, filled.plan, filled.entities, spans)
        if problems:
            refused.append({"question": episode.question, "problems": problems})
            continue
        return Recall(Recalled(filled.plan, episode, filled.entities, filled.numbers), refused)
    return Recall(None, refused)


def _problems(
    planner: Planner, question: str, plan: Plan, entities: dict[str, str], spans: list[str]
) -> list[str]:
    """Everything a sampled plan must pass before it runs, plus: names the planner offers."""
    offered = {s.casefold() for s in spans}
    problems = [
        f"{entity!r} is not a name in the question"
        for entity in entities.values()
        if entity.casefold() not in offered
    ]
    problems += [str(p) for p in validate_plan(plan, planner.registry)]
    if plan.answer_template is None:
        problems.append("the plan has no answer template")
    if problems or not planner.settings.check_relevance:
        return problems
    problems += planner.relevance.out_of_scope(question, spans)
    if not problems:
        problems += relevance_problems(question, plan, planner.relevance)
    return problems


def settle(memory: object, recalled: Recalled, answer: Answer | None, run_id: str) -> bool:
    """Count the reuse as a hit, or demote the episode; True for a hit.

    A hit is an answer `answered` at `REUSE_AT` or better; anything else — a
    failed or skipped task, a gap, an abstention, an answer the grounding check
    repaired or refused — demotes the episode.
    """
    good = (
        answer is not None
        and answer.status is AnswerStatus.ANSWERED
        and answer.confidence.score >= REUSE_AT
        and answer.confidence.signals.get("grounding", "ok") == "ok"
    )
    if not isinstance(memory, ReusableMemory):
        return good
    reason = "" if good else _why_not(answer)
    try:
        memory.record_reuse(recalled.episode.key, succeeded=good, run_id=run_id, reason=reason)
    except VeritaskError as exc:
        log.warning("plan memory not updated after run %s: %s", run_id, exc)
    return good


def _why_not(answer: Answer | None) -> str:
    if answer is None:
        return "the run ended without an answer"
    if answer.status is not AnswerStatus.ANSWERED:
        gaps = "; ".join(answer.gaps[:2])
        return f"the answer was {answer.status.value}" + (f": {gaps}" if gaps else "")
    if answer.confidence.signals.get("grounding", "ok") != "ok":
        return "the answer's wording was not grounded in the outcomes"
    return f"the answer's confidence was {answer.confidence.score:.2f}, below {REUSE_AT}"


__all__ = ["CANDIDATES", "REUSE_AT", "Recall", "Recalled", "ReusableMemory", "recall", "settle"]
