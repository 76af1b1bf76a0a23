"""Model workers: a model's answer as a plan task that says how sure it is.

    llm.extract(text, what)       a span copied from `text`
    llm.classify(text, labels)    one of `labels`
    llm.judge(claim, evidence)    supported | contradicted | not_enough_info

Why: a tool call scores 1.0, so nothing in a plan could be unsure in a way
more compute could fix. A worker's output is constrained by a GBNF grammar
(word runs of the text, or the labels), so it cannot be off-format, and is
checked again after decoding (a provider that ignores grammars gets no
benefit of the doubt). Its confidence, with the method recorded on the
outcome, is the probability of its answer among the answers the grammar
allows when the provider reports that (the embedded model does), else the
mean token probability of one sample or the agreement of several: see
`worker_scoring`.

An output the length limit cut — the token cap (finish_reason "length") or,
for a span, the grammar's word limit before the text ends — is no answer,
whatever it shows: it is the start of something else ("fail" of "failure"),
so it neither votes nor is reported. So is a span that names two competing
candidates ("Bristol, near the Leeds road", "Bristol or Leeds"): a small model
copies such a span in every sample, and agreement would make it a confident
pick of one of the two (`veritask.models.mentions`). When no sample gives an
answer (cut, ambiguous or off-format), the worker returns a result with no
answer and the reason (`ToolResult.no_answer`, confidence 0) rather than
raising: its task climbs the escalation ladder like an unsure one, and is a
gap with that reason if no rung finds an answer.

Each result carries its `votes` (with their output probabilities), so the
escalation ladder's resample rung adds samples to them instead of starting
over (`run_worker(..., prior=…)`).
Calls go through the router by task kind (extract, classify → `extract`,
judge → `verify`); the model defaults to the embedded one. The router comes
from `bind_router` (the Orchestrator binds its own for a run) or is built
from the configuration on first use.
"""

from __future__ import annotations

import contextvars
import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from veritask.embedding.lexical import tokens
from veritask.errors import ToolError
from veritask.models.base import Choice, Message, assistant, system, user
from veritask.models.confidence import normalize_answer
from veritask.models.mentions import competing
from veritask.models.router import Router
from veritask.models.worker_scoring import (
    Sample,
    Vote,
    prior_samples,
    score_samples,
    to_sample,
    votes_of,
)
from veritask.tools.registry import ToolResult, ToolSpec, make_spec
from veritask.types import Source

VERDICTS = ("supported", "contradicted", "not_enough_info")
MAX_SPAN_WORDS = 12
"""Longest word run `llm.extract` may copy."""
MAX_GRAMMAR_WORDS = 600
"""Texts longer than this get no span grammar (it would have words × 12 rules); the
output is still checked to be a span of the text."""
SAMPLE_TEMPERATURE = 0.7
"""Temperature of extra samples: at 0 every sample would be the same."""
WORKER_TIMEOUT_S = 120.0

_router: contextvars.ContextVar[Router | None] = contextvars.ContextVar(
    "veritask_worker_router", default=None
)
_default_router: list[Router] = []


def bind_router(router: Router | None) -> contextvars.Token[Router | None]:
    """Make `router` the one workers in this context call; pass the token to `unbind_router`."""
    return _router.set(router)


def unbind_router(token: contextvars.Token[Router | None]) -> None:
    _router.reset(token)


def current_router() -> Router:
    """The bound router, or one built from the configuration (the embedded model by default)."""
    bound = _router.get()
    if bound is not None:
        return bound
    if not _default_router:
        _default_router.append(Router())
    return _default_router[0]


@dataclass(frozen=True)
class Effort:
    """How hard one worker call tries; the escalation ladder raises it.

    `samples`: answers drawn in this call; None = the worker's own default
    (`DEFAULT_SAMPLES`). `models`: the models to ask instead of the kind's route
    (the stronger-model rung names them); empty = the route.
    """

    samples: int | None = None
    models: tuple[str, ...] = ()


EXTRACT_SAMPLES = 4
"""Samples `llm.extract` draws in its first call. Equivalent spans ("12 kg." and "The
parcel weighs 12 kg.") split the probability of one answer, so one greedy sample
under-states it; samples in the same call cost only their few output tokens (the prompt
is read once), where a resample rung reads the prompt again. Labels are distinct
answers: one greedy sample already gives a label's probability."""
DEFAULT_SAMPLES = {"llm.extract": EXTRACT_SAMPLES, "llm.classify": 1, "llm.judge": 1}


# -- grammars ----------------------------------------------------------------------


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def span_grammar(text: str, max_words: int = MAX_SPAN_WORDS) -> str | None:
    """GBNF whose sentences are exactly the runs of 1..max_words consecutive words of `text`.

    None when the text is too long for a grammar of this shape (see MAX_GRAMMAR_WORDS).
    """
    words = text.split()
    if not words or len(words) > MAX_GRAMMAR_WORDS:
        return None
    rules: list[str] = []
    for j in range(len(words)):
        for d in range(1, max_words + 1):
            if j + d - 1 >= len(words):
                break
            lit = _literal(words[j + d - 1])
            more = d < max_words and j + d < len(words)
            rules.append(f"w{j}d{d} ::= {lit}" + (f' (" " w{j}d{d + 1})?' if more else ""))
    starts = " | ".join(f"w{j}d1" for j in range(len(words)))
    return "\n".join([f"root ::= {starts}", *rules]) + "\n"


_NUMBER = re.compile(r"(?<![\w.,:])-?\d+(?:\.\d+)?(?!\w|[.,:]\d)")
_ASKS_NUMBER = re.compile(
    r"\b(numbers?|how (many|much|long|far|old|often)|count|amount|quantity)\b", re.IGNORECASE
)


def asks_for_number(what: str) -> bool:
    """Whether an extraction request asks for a number ("the number of minutes")."""
    return bool(_ASKS_NUMBER.search(what))


def numbers_in(text: str) -> list[str]:
    """The plain numbers written in `text` ("45", "2.5"), each once, in order.

    Only digits with an optional decimal part: "1,200" or "4:30" are not offered,
    so whatever is copied is a number `calc` can compute with.
    """
    return list(dict.fromkeys(m.group(0) for m in _NUMBER.finditer(text)))


def numbers_named(text: str, what: str) -> list[str]:
    """The plain numbers of `text` whose next word the request names: "45" of "45 minutes"
    for "the number of minutes", each once.

    Why only these: offered every number of a text, the 135M model picked the wrong one
    of two amounts ("12 euros, but after the discount it came to 87 euros") with
    probability 0.81. A number chosen by the unit the request names needs no judgement;
    any other choice among numbers is left to a span, which says what it copied.
    """
    asked = set(tokens(what))
    named = []
    for match in _NUMBER.finditer(text):
        following = text[match.end() :].split(None, 1)
        unit = tokens(following[0]) if following else []
        if unit and unit[0] in asked:
            named.append(match.group(0))
    return list(dict.fromkeys(named))


def choice_grammar(labels: Sequence[str]) -> str:
    """GBNF admitting exactly one of `labels`."""
    return "root ::= " + " | ".join(_literal(label) for label in labels) + "\n"


# -- decoding and checking ---------------------------------------------------------

_EDGE = " \t\n.,;:!?\"'()[]{}"


def find_span(text: str, answer: str) -> tuple[int, int] | None:
    """Where `answer` (its words, any whitespace between them) lies in `text`, or None."""
    words = answer.strip(_EDGE).split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words)
    found = re.search(pattern, text) or re.search(pattern, text, re.IGNORECASE)
    return (found.start(), found.end()) if found else None


Check = Callable[[str], tuple[str | None, str]]
"""An output → the answer it gives, or None and why not."""
CUT = "cut by the length limit"


def _span_value(text: str, max_words: int | None) -> Check:
    """Spans of `text`. With `max_words` (the grammar's limit), a span that long which
    does not end the text was cut by the limit: the grammar, not the model, stopped it,
    and what it meant to copy ("The first invoice was 12 euros, but after the discount
    it came") may name something else than what it shows. A span that names two
    competing candidates ("Bristol, near the Leeds road") is no answer either: which
    one it means is what it does not say (see `veritask.models.mentions`)."""

    def check(out: str) -> tuple[str | None, str]:
        at = find_span(text, out)
        if at is None:
            return None, "not a span of the text"
        span = text[at[0] : at[1]]
        if max_words and len(span.split()) >= max_words and text[at[1] :].strip(_EDGE):
            return None, f"{CUT} ({max_words} words)"
        rivals = competing(text, *at)
        if rivals is not None:
            return None, f"naming two competing candidates ({rivals[0]!r}, {rivals[1]!r})"
        return span, ""

    return check


def _number_value(offered: Sequence[str]) -> Check:
    """The numbers the grammar offered, checked again after decoding like a span or a label."""
    numbers = set(offered)

    def check(out: str) -> tuple[str | None, str]:
        number = out.strip()
        return (number, "") if number in numbers else (None, "not a number the text states")

    return check


def _label_value(labels: Sequence[str]) -> Check:
    by_norm = {normalize_answer(label): label for label in labels}

    def check(out: str) -> tuple[str | None, str]:
        label = by_norm.get(normalize_answer(out.strip()))
        return (label, "") if label is not None else (None, "not one of the labels")

    return check


def _decode(choice: Choice, check: Check) -> Sample:
    """One sample's answer. An output the token cap cut is none, whatever it shows: a
    cut span or label is the start of something else ("Bristol" of "Bristol Road")."""
    if choice.finish_reason == "length":
        return to_sample(choice, None, f"{CUT} (finish_reason length)")
    return to_sample(choice, *check(choice.text))


async def _samples(
    tool: str,
    kind: str,
    messages: Sequence[Message],
    grammar: str | None,
    check: Check,
    effort: Effort,
    max_tokens: int,
) -> tuple[list[Sample], str]:
    n = effort.samples if effort.samples is not None else DEFAULT_SAMPLES[tool]
    if n < 1:
        raise ValueError("a worker needs at least one sample")
    completion = await current_router().acomplete(
        kind,
        messages,
        grammar=grammar,
        max_tokens=max_tokens,
        temperature=0.0 if n == 1 else SAMPLE_TEMPERATURE,
        n=n,
        logprobs=True,
        timeout_s=WORKER_TIMEOUT_S,
        models=list(effort.models) or None,
    )
    return [_decode(c, check) for c in completion.choices], completion.model


def _result(
    tool: str,
    query: dict[str, Any],
    samples: list[Sample],
    model: str,
    fields: Callable[[str], dict[str, Any]] | None = None,
) -> ToolResult:
    value, confidence = score_samples(samples, spans=tool == "llm.extract")
    confidence = confidence.model_copy(
        update={"signals": {**confidence.signals, "model": model, "tool": tool}}
    )
    if value is None:  # under any threshold: the task may climb, else it is a gap
        reason = confidence.signals.get("reason", "off-format output")
        asked = [Source(tool=tool, query=query, source=model)]
        return ToolResult(None, asked, confidence, f"{tool} gave no answer: {reason}")
    source = Source(tool=tool, query=query, source=model, fields=fields(value) if fields else {})
    return ToolResult(value, [source], confidence)


# -- the workers -------------------------------------------------------------------

EXTRACT_SYSTEM = (
    "You copy the exact words of a text that answer a request. Reply with the span only, "
    "copied word for word from the text: no explanation, no quotes."
)
EXTRACT_EXAMPLES = (
    ("The river is 42 km long and flows into the lake.", "the length of the river", "42 km"),
    ("Ada was born in Paris but grew up in Rome.", "where Ada grew up", "Rome"),
)
"""Shown as earlier turns: a small model copies the shortest span once it has seen it done,
and its token probabilities then speak about the answer instead of the format."""


def _extract_messages(text: str, what: str) -> list[Message]:
    out: list[Message] = [system(EXTRACT_SYSTEM)]
    for ex_text, ex_what, span in EXTRACT_EXAMPLES:
        out += [user(_extract_prompt(ex_text, ex_what)), assistant(span)]
    return [*out, user(_extract_prompt(text, what))]


def _extract_prompt(text: str, what: str) -> str:
    return f"Text:\n{text}\n\nCopy from the text: {what}"


CLASSIFY_SYSTEM = "You classify a text. Reply with exactly one of the given labels."
JUDGE_SYSTEM = (
    "You check a claim against evidence. Reply supported if the evidence states the claim, "
    "contradicted if it states otherwise, not_enough_info if it does not say."
)


async def run_extract(
    args: Mapping[str, Any], effort: Effort = Effort(), prior: Sequence[Vote | str | None] = ()
) -> ToolResult:
    """`llm.extract` at a given effort, adding to earlier votes (see the module doc)."""
    text, what = str(args["text"]), str(args["what"])
    if not text.strip():
        raise ToolError("llm.extract: the text is empty, there is nothing to copy from")
    messages = _extract_messages(text, what)
    width = max(len(w) for w in text.split())
    max_tokens = min(512, MAX_SPAN_WORDS * (2 + width // 3))
    grammar = span_grammar(text)
    check = _span_value(text, MAX_SPAN_WORDS if grammar is not None else None)
    if asks_for_number(what):
        if not numbers_in(text):
            raise ToolError(f"llm.extract: the text states no number for {what!r}")
        # The one number whose unit the request names is copied as a bare number (a small
        # model otherwise copies the whole sentence, which no later calc can read); with
        # none or several, which number is meant is the model's judgement: a span.
        named = numbers_named(text, what)
        if len(named) == 1:
            grammar, check = choice_grammar(named), _number_value(named)
    samples, model = await _samples(
        "llm.extract",
        "extract",
        messages,
        grammar,
        check,
        effort,
        max_tokens,
    )

    def where(value: str) -> dict[str, Any]:
        at = find_span(text, value)
        return {"start": at[0], "end": at[1]} if at else {}

    query = {"what": what, "text": _clip(text)}
    return _result("llm.extract", query, prior_samples(prior) + samples, model, where)


async def run_classify(
    args: Mapping[str, Any], effort: Effort = Effort(), prior: Sequence[Vote | str | None] = ()
) -> ToolResult:
    """`llm.classify` at a given effort, adding to earlier votes."""
    text, labels = str(args["text"]), _labels(args["labels"])
    messages = [
        system(CLASSIFY_SYSTEM),
        user(f"Text:\n{text}\n\nLabels: {', '.join(labels)}\nLabel:"),
    ]
    samples, model = await _samples(
        "llm.classify",
        "extract",
        messages,
        choice_grammar(labels),
        _label_value(labels),
        effort,
        _width(labels),
    )
    query = {"text": _clip(text), "labels": labels}
    return _result("llm.classify", query, prior_samples(prior) + samples, model)


async def run_judge(
    args: Mapping[str, Any], effort: Effort = Effort(), prior: Sequence[Vote | str | None] = ()
) -> ToolResult:
    """`llm.judge` at a given effort, adding to earlier votes."""
    claim = str(args["claim"])
    evidence = args["evidence"]
    shown = evidence if isinstance(evidence, str) else json.dumps(evidence, ensure_ascii=False)
    messages = [
        system(JUDGE_SYSTEM),
        user(f"Claim: {claim}\nEvidence: {shown}\nVerdict ({', '.join(VERDICTS)}):"),
    ]
    samples, model = await _samples(
        "llm.judge",
        "verify",
        messages,
        choice_grammar(VERDICTS),
        _label_value(VERDICTS),
        effort,
        12,
    )
    query = {"claim": claim, "evidence": _clip(shown)}
    return _result("llm.judge", query, prior_samples(prior) + samples, model)


def _labels(raw: Any) -> list[str]:
    labels = [str(x).strip() for x in raw] if isinstance(raw, list | tuple) else []
    if len(labels) < 2 or any(not label for label in labels) or len(set(labels)) < len(labels):
        raise ToolError(
            f"llm.classify: labels must be at least two distinct non-empty words, got {raw!r}"
        )
    return labels


def _width(labels: Sequence[str]) -> int:
    return max(8, max(math.ceil(len(label) / 2) + 4 for label in labels))


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


Worker = Callable[[Mapping[str, Any], Effort, Sequence[Vote | str | None]], Awaitable[ToolResult]]
WORKERS: dict[str, Worker] = {
    "llm.extract": run_extract,
    "llm.classify": run_classify,
    "llm.judge": run_judge,
}
"""Tool name → the worker at a chosen effort: what the escalation ladder calls."""


def accepts(tool: str, args: Mapping[str, Any], value: Any) -> bool:
    """Whether `value` is an answer `tool` could give for `args`: a span of the text naming
    no two competing candidates, one of the labels, a verdict. What another rung (an agent)
    brings must be that too."""
    if value is None:
        return False
    text = str(value)
    if tool == "llm.extract":
        return _span_value(str(args.get("text", "")), None)(text)[0] is not None
    if tool == "llm.classify":
        return text in [str(x) for x in args.get("labels", [])]
    if tool == "llm.judge":
        return text in VERDICTS
    return True


# -- as tools ----------------------------------------------------------------------


async def extract(text: str, what: str) -> ToolResult:
    """Copy the words of `text` that answer `what`: a span of the text, never new words.

    Args:
        text: the text to copy from (a passage, a tool's text field).
        what: what to copy, e.g. "the date of the meeting".
    """
    return await run_extract({"text": text, "what": what})


async def classify(text: str, labels: list[str]) -> ToolResult:
    """Classify `text` as exactly one of `labels`.

    Args:
        text: the text to classify.
        labels: the allowed labels, e.g. ["complaint", "question", "praise"].
    """
    return await run_classify({"text": text, "labels": labels})


async def judge(claim: str, evidence: str | dict[str, Any] | list[Any]) -> ToolResult:
    """Judge whether `evidence` supports `claim`: supported, contradicted or not_enough_info.

    Args:
        claim: the statement to check.
        evidence: the text or record to check it against.
    """
    return await run_judge({"claim": claim, "evidence": evidence})


def worker_specs() -> list[ToolSpec]:
    """The workers as tools (idempotent: reading a text twice changes nothing)."""
    return [
        make_spec(fn, name=name, idempotent=True, timeout_s=2 * WORKER_TIMEOUT_S)
        for name, fn in (("llm.extract", extract), ("llm.classify", classify), ("llm.judge", judge))
    ]


__all__ = [
    "EXTRACT_SAMPLES",
    "VERDICTS",
    "WORKERS",
    "Effort",
    "Vote",
    "accepts",
    "asks_for_number",
    "bind_router",
    "choice_grammar",
    "current_router",
    "find_span",
    "numbers_in",
    "numbers_named",
    "score_samples",
    "span_grammar",
    "unbind_router",
    "votes_of",
    "worker_specs",
]
