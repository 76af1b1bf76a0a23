"""The planner: question → validated Plan. It plans; it never calls a tool.

Decoding is constrained by a per-question grammar (see `grammar.py`), so
every sample parses and names only entities from the question. Several
samples are drawn; those that validate vote, and the most common plan wins.
Agreement between samples is the plan's confidence. Sampling is adaptive:
when the first two samples validate and agree, no more are drawn (see
`_settled` for why that never changes the chosen plan, and `agreement` for
what the confidence then means). When no sample
validates, the problems are fed back for a bounded number of repair rounds;
after that the planner gives up with every problem named, instead of
running a plan it knows is wrong.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from veritask.budget import current_meter
from veritask.embedding import default_embedder
from veritask.errors import ModelError, PlanError, PlanProblem
from veritask.models.base import Completion, Message
from veritask.plan.validation import validate_plan
from veritask.planner.catalog import Catalog
from veritask.planner.checks import (
    offered_names,
    relevance_problems,
    uncovered_by_every_plan,
    uncovered_problem,
)
from veritask.planner.examples import closest, rank_by_meaning, synthesized, toolkit_pairs
from veritask.planner.grammar import MAX_STEPS, build_grammar
from veritask.planner.prompt import plan_messages, repair_messages
from veritask.planner.question_text import question_spans
from veritask.planner.relevance import Asked, Relevance
from veritask.planner.steps import StepSyntaxError, canonical, parse_steps, render_steps
from veritask.planner.tidy import questions_as_asked, tidy, unused_lookups
from veritask.tools.registry import ToolRegistry
from veritask.types import Plan, Usage

MODEL_FAILED = "the model failed"
"""How a sample that never came back starts its problem (a broken run, not a bad plan)."""


class Completer(Protocol):
    """What the planner needs from the model layer (a Router satisfies it)."""

    async def acomplete(
        self,
        kind: str,
        messages: Sequence[Message],
        *,
        grammar: str | None = None,
        max_tokens: int = ...,
        temperature: float = ...,
    ) -> Completion: ...


@dataclass(frozen=True)
class Candidate:
    """One sampled plan: its text, the Plan if it parsed, and what is wrong with it."""

    text: str
    plan: Plan | None
    problems: list[str]
    round: int
    model: str = ""
    """The model that wrote it, and what the call cost: traces show each as a `chat` span."""
    usage: Usage | None = None
    error_type: str | None = None
    """The exception's type when the model call itself failed."""

    @property
    def valid(self) -> bool:
        return self.plan is not None and not self.problems


@dataclass(frozen=True)
class PlanningResult:
    plan: Plan
    confidence: float
    votes: int
    candidates: list[Candidate] = field(default_factory=list)


Remembered = Callable[[str, int], Sequence[tuple[str, str]]]
"""Look-up of past (question, steps) pairs similar to a question: episodic memory."""


@dataclass
class PlannerSettings:
    samples: int = 3
    """Most plans drawn in the first round, two at a time (at once: see `Planner.aplan`);
    the first at temperature 0, the rest at `temperature`. Drawing stops after two
    when those two validate and agree, or when both fail a check (the repair round
    follows; see `_stuck`). Three, not four: a fourth drawn beside the third costs
    no time on two cores, but on the railway suite it cost 21 % more tokens a
    question and split more votes 2-2, each sending the plan to the resample rung
    (p95 3.6 -> 4.8 s against three)."""
    temperature: float = 0.7
    repair_rounds: int = 1
    """Rounds that show the model its rejected plan and the problems. One: on the
    geography and railway suites a second round never produced a valid plan
    (0 of 11 questions), while each costs a call with the longest prompt."""
    examples: int = 3
    near_match: float = 0.75
    """When the closest example is at least this similar to the question (a near
    template of it), one example fewer is shown: the least similar one, which
    then teaches little the near match does not. It saves reading ~55 prompt
    tokens in every sample. With two examples always, the railway suite lost two
    questions whose closest examples were all weak matches (0.43-0.48); those
    keep three."""
    max_steps: int = MAX_STEPS
    max_tokens: int = 160
    check_relevance: bool = True
    """Reject valid plans that do not answer the question asked (see relevance.py), and
    refuse questions using words no tool covers before spending a model call."""


class Planner:
    """Turns a question into a validated Plan with a model and a catalog of tools.

    `catalog` is the active toolkits' merged view (tools, vocabulary, notes,
    examples); a bare ToolRegistry plans from tool descriptions alone.
    """

    def __init__(
        self,
        model: Completer,
        catalog: Catalog | ToolRegistry,
        *,
        settings: PlannerSettings | None = None,
        remembered: Remembered | None = None,
        on_candidate: Callable[[Candidate], None] | None = None,
        kind: str = "plan",
        relevance: Relevance | None = None,
    ) -> None:
        self.kind = kind
        self.model = model
        self.catalog = catalog if isinstance(catalog, Catalog) else Catalog.of_registry(catalog)
        self.registry = self.catalog.registry
        self.relevance = relevance if relevance is not None else Relevance(self.catalog)
        self.settings = settings or PlannerSettings()
        self.remembered = remembered
        self.on_candidate = on_candidate
        self._toolkit_pairs = toolkit_pairs(self.catalog)

    def example_pairs(self, question: str, asked: Asked | None = None) -> list[tuple[str, str]]:
        """The k most similar of: past plans that worked, and the toolkits' examples
        (k is one less when the closest is a near match, see `near_match`).

        Remembered plans win ties, but a weak memory match never pushes out a
        closer toolkit example. With neither, examples are written from the
        tool descriptions (see `examples.synthesized`).
        """
        k = self.settings.examples
        pool: list[tuple[float, int, tuple[str, str]]] = []
        if self.remembered is not None:
            remembered = list(self.remembered(question, k))
            scores = rank_by_meaning(question, [q for q, _ in remembered])
            pool += [(sc, 1, pair) for sc, pair in zip(scores, remembered, strict=True)]
        pool += [(sc, 0, pair) for sc, pair in closest(question, self._toolkit_pairs, k)]
        if not pool:
            made = synthesized(self.catalog, asked or self.relevance.asked(question))
            return list(reversed(made))
        pool.sort(key=lambda item: (item[0], item[1]), reverse=True)
        # Without the embedding model the scores are BM25 relative to the best (always
        # 1.0), which says nothing about how near the best is: keep every example.
        near = default_embedder() is not None and pool[0][0] >= self.settings.near_match
        if k > 1 and near:
            k -= 1
        best = [pair for _, _, pair in pool[:k]]
        # Most similar example last: small models copy the nearest turn most.
        return list(reversed(best))

    def messages(self, question: str, asked: Asked) -> list[Message]:
        return plan_messages(
            question, self.registry, self.example_pairs(question, asked), self.catalog.notes
        )

    async def aplan(self, question: str) -> PlanningResult:
        """A validated plan for `question`, or PlanError listing what every attempt got wrong."""
        s = self.settings
        if not question.strip():
            raise PlanError([PlanProblem("empty", "the question is empty; ask something")])
        asked = self.relevance.asked(question)
        if s.check_relevance:
            spans = question_spans(question)
            scope = self.relevance.out_of_scope(question, spans)
            if scope:
                raise PlanError([PlanProblem("out_of_scope", p) for p in scope])
            offered = offered_names(question, self.catalog, asked)
            unreachable = uncovered_by_every_plan(question, self.relevance, offered)
            if unreachable:  # every sample would be refused for these words
                raise PlanError([PlanProblem("out_of_scope", uncovered_problem(unreachable))])
        grammar = build_grammar(question, self.catalog, asked, s.max_steps)
        messages = self.messages(question, asked)
        candidates: list[Candidate] = []
        for round_no in range(s.repair_rounds + 1):
            count = s.samples if round_no == 0 else 1
            # Samples are drawn two at once: a provider that can run two calls side
            # by side (a twin context of the embedded model, any remote API) plans
            # an easy question in the time of one sample.
            batch: list[Candidate] = []
            while len(batch) < count and not (_settled(batch, count) or _stuck(batch, count)):
                pair = range(len(batch), min(count, len(batch) + 2))
                batch += await self._samples(messages, grammar, question, pair, round_no, asked)
            candidates.extend(batch)
            chosen = _vote([c for c in batch if c.valid])
            if chosen is not None:
                plan, votes = chosen
                return PlanningResult(plan, agreement(votes, candidates), votes, candidates)
            worst = min(batch, key=lambda c: len(c.problems))
            messages = repair_messages(messages, worst.text, worst.problems)
        problems = [PlanProblem("rejected", p) for p in candidates[-1].problems]
        raise PlanError(problems or [PlanProblem("rejected", "the planner produced no plan")])

    async def aresample(
        self,
        question: str,
        previous: PlanningResult,
        extra: int,
        *,
        enough: float | None = None,
    ) -> PlanningResult:
        """Self-consistency: draw up to `extra` more samples and vote again over all of them.

        With `enough`, drawing stops as soon as the leading plan has at least two
        votes and that share of the valid samples: the caller only needs a plan
        that sure, and more draws could only confirm it or lower its share.
        The confidence keeps its meaning (the agreement among the samples
        drawn), as with the first round's adaptive stop (`_settled`).
        """
        asked = self.relevance.asked(question)
        grammar = build_grammar(question, self.catalog, asked, self.settings.max_steps)
        messages = self.messages(question, asked)
        round_no = max((c.round for c in previous.candidates), default=0) + 1
        pool = [c for c in previous.candidates if c.round == 0]
        fresh: list[Candidate] = []
        while len(fresh) < extra:  # two at once, as in the first round
            pair = range(len(fresh) + 1, min(extra, len(fresh) + 2) + 1)
            fresh += await self._samples(messages, grammar, question, pair, round_no, asked)
            if enough is None:
                continue
            drawn = [*pool, *fresh]
            chosen = _vote([c for c in drawn if c.valid])
            if chosen is not None and chosen[1] >= 2 and agreement(chosen[1], drawn) >= enough:
                break
        pool += fresh
        chosen = _vote([c for c in pool if c.valid])
        if chosen is None:
            return previous
        plan, votes = chosen
        return PlanningResult(plan, agreement(votes, pool), votes, [*previous.candidates, *fresh])

    async def _samples(
        self,
        messages: list[Message],
        grammar: str,
        question: str,
        indexes: range,
        round_no: int,
        asked: Asked,
    ) -> list[Candidate]:
        """Samples `indexes`, drawn at once; reported in index order when all are back.

        One at a time when the run's budget allows fewer model calls than the
        pair (both would pass the budget check before either is charged). If one
        call raises (the budget ran out), the other is cancelled, not orphaned.
        """
        meter = current_meter()
        calls_left = None
        if meter is not None and meter.budget.max_model_calls is not None:
            calls_left = meter.budget.max_model_calls - meter.used.model_calls
        if calls_left is not None and calls_left < len(indexes):
            one_by_one = []
            for i in indexes:
                one_by_one.append(
                    await self._sample(messages, grammar, question, i, round_no, asked)
                )
                self._notify(one_by_one[-1])
            return one_by_one
        tasks = [
            asyncio.ensure_future(self._sample(messages, grammar, question, i, round_no, asked))
            for i in indexes
        ]
        try:
            drawn = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        for cand in drawn:
            self._notify(cand)
        return list(drawn)

    async def _sample(
        self,
        messages: list[Message],
        grammar: str,
        question: str,
        index: int,
        round_no: int,
        asked: Asked,
    ) -> Candidate:
        temperature = 0.0 if index == 0 else self.settings.temperature
        try:
            completion = await self.model.acomplete(
                self.kind,
                messages,
                grammar=grammar,
                max_tokens=self.settings.max_tokens,
                temperature=temperature,
            )
        except ModelError as exc:
            cand = Candidate(
                "", None, [f"{MODEL_FAILED}: {exc}"], round_no, error_type=type(exc).__name__
            )
        else:
            cand = replace(
                self._check(completion.text, question, round_no, asked),
                model=completion.model,
                usage=completion.usage,
            )
        return cand

    def _notify(self, cand: Candidate) -> None:
        if self.on_candidate is not None:
            self.on_candidate(cand)

    def _check(self, text: str, question: str, round_no: int, asked: Asked) -> Candidate:
        try:
            written = parse_steps(text, self.registry, goal=question)
        except StepSyntaxError as exc:
            return Candidate(text, None, [str(exc)], round_no)
        written = questions_as_asked(written, question, self.registry)
        plan = tidy(written)
        problems = [str(p) for p in validate_plan(plan, self.registry)]
        problems += unused_lookups(written, plan)
        if plan.answer_template is None:
            problems.append("the plan has no Answer line; end with 'Answer: ... {$N} ...'")
        if not problems and self.settings.check_relevance:
            problems = relevance_problems(question, plan, self.relevance, asked)
        return Candidate(text, plan, problems, round_no)


def agreement(votes: int, candidates: Sequence[Candidate]) -> float:
    """The plan's confidence: its share of the samples that passed every check.

    A sample the checks rejected argues for no other answer, so it does not
    dilute the vote; but one valid sample alone is only half-sure (it counts
    against at least two), and two valid samples that disagree are a coin flip.

    Only samples actually drawn count. When sampling stopped early because the
    first two agreed, that is 2 / 2 = 1.0 — the score three agreeing samples
    get, and the meaning is unchanged: every valid sample drawn agrees. What
    is given up is the chance that an undrawn third would have disagreed
    (2 / 3 ≈ 0.67); that is the bet adaptive sampling makes, and
    `Planner.aresample` can still draw more samples and vote again over all.
    """
    valid = sum(1 for c in candidates if c.valid)
    return votes / max(valid, 2)


def _settled(batch: Sequence[Candidate], planned: int) -> bool:
    """Whether to stop drawing this round's samples: the first two validate and agree.

    With the default three samples, two agreeing votes already beat anything
    the third could say (2 against at most 1), so stopping never changes the
    chosen plan; it saves a model call on every question the model finds
    easy. With `samples` above three, later samples agreeing on another plan
    could in principle have outvoted the pair; stopping anyway is the
    setting's meaning here ("up to N samples"), and that residue is why the
    confidence of an early stop is not higher than that of two agreeing
    samples. Any disagreement, or a sample that fails a check, draws the rest.
    """
    if len(batch) != 2 or planned <= 2:
        return False
    first, second = batch
    if not (first.valid and second.valid) or first.plan is None or second.plan is None:
        return False
    return canonical(first.plan) == canonical(second.plan)


def _stuck(batch: Sequence[Candidate], planned: int) -> bool:
    """Whether to go to the repair round now: the first two samples both failed a check.

    On the geography and railway suites (four runs, 26 questions) a third
    sample at the same prompt never passed after two that failed; the
    repair round, which shows the model its plan's problems, is the one
    chance left, and the third sample only delayed it (~0.6 s, a quarter
    of a question that ends unplanned). One valid sample of two still draws
    the third: it may break the tie.
    """
    written = all(c.error_type is None for c in batch)  # a model that failed wrote nothing
    return len(batch) == 2 < planned and written and not any(c.valid for c in batch)


def _vote(valid: list[Candidate]) -> tuple[Plan, int] | None:
    """The most common valid plan and its vote count; ties go to the earliest sample."""
    if not valid:
        return None
    counts = Counter(canonical(c.plan) for c in valid if c.plan is not None)
    best_key, votes = max(counts.items(), key=lambda kv: kv[1])
    for c in valid:
        if c.plan is not None and canonical(c.plan) == best_key:
            return c.plan, votes
    return None


__all__ = ["Candidate", "Planner", "PlannerSettings", "PlanningResult", "render_steps"]
