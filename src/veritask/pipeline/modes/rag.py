"""The plain-RAG baseline: retrieve top-k passages, put them in the prompt, generate freely.

This is what a typical retrieval-augmented pipeline does (the prompt is the
widely copied "use the following pieces of retrieved context" one), and it
is what the knowledge base's quoted answers are measured against. To keep
the comparison honest it gets the same help the orchestrated run gets where
help is not the point: the same retriever (`kb_search` of the active `kb`
toolkit, logged as task ``r1``), the same model and router kind, the same
run budget. What it lacks is exactly what veritask adds: the answer is free
text, not a span copied from a passage; nothing checks it against the
passages; and its confidence is only the model's token likelihood.

It abstains when the retriever returns nothing, when the model says it
does not know (the prompt invites that), or when the model writes nothing.
Passage numbers the model writes (``[2]``) are kept in the answer, so a
reader — or the benchmark's citation check — can see what it cited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from veritask.errors import BudgetExceeded, ModelError, UserError
from veritask.models.base import Message, system, user
from veritask.pipeline.modes._common import (
    MODEL_KIND,
    ToolCalls,
    answer_confidence,
    model_failed,
    note_budget,
    parse_value,
)
from veritask.types import NO_CONFIDENCE, Answer, AnswerStatus, Claim

if TYPE_CHECKING:
    from veritask.pipeline.orchestrator import Orchestrator
    from veritask.runtime.eventlog import EventLog

SEARCH_TOOL = "kb_search"
"""The retriever: the `kb` toolkit's search, so both modes read the same passages."""

SYSTEM = (
    "You are an assistant for question-answering tasks. Use the following pieces of "
    "retrieved context to answer the question. If you don't know the answer, just say "
    "that you don't know. Keep the answer short and cite the passage you used as [n]."
)

_DONT_KNOW = re.compile(
    r"\b(?:i\s+(?:do\s*n[o']?t|don't|cannot|can't)\s+know|"
    r"(?:is|are)\s+not\s+(?:mentioned|provided|stated|given|specified)|"
    r"(?:no|not\s+enough)\s+information|cannot\s+(?:answer|find)|can't\s+(?:answer|find)|"
    r"does\s+not\s+(?:say|mention|contain|state))\b",
    re.IGNORECASE,
)
_CITED = re.compile(r"\[(\d{1,2})\]")


@dataclass(frozen=True)
class RagSettings:
    """How much is retrieved and generated."""

    k: int = 5
    """Passages retrieved and put in the prompt (the orchestrated `kb_answer` reads 5 too)."""
    max_passage_chars: int = 1500
    """Each passage is cut to this many characters (five fit a 4k-token window)."""
    max_tokens: int = 80
    temperature: float = 0.0


async def run_rag(
    question: str,
    orch: Orchestrator,
    log: EventLog,
    settings: RagSettings | None = None,
) -> Answer:
    """Answer `question` by retrieve → stuff the prompt → generate."""
    s = settings or RagSettings()
    if SEARCH_TOOL not in orch.registry:
        raise UserError(
            "rag mode answers from a knowledge base: pass --kb NAME "
            "(Orchestrator(knowledge=[NAME])) so the kb_search retriever is available"
        )
    calls = ToolCalls(orch, log, prefix="r")
    try:
        try:
            found = await calls.call(SEARCH_TOOL, {"query": question, "k": s.k})
        except BudgetExceeded as exc:
            return _abstain(note_budget(log, exc))
        if not found.ok:
            return _abstain(calls.gaps()[0] if calls.gaps() else "the retriever failed")
        passages: list[dict[str, Any]] = list(found.value or [])
        if not passages:
            return _abstain(f"the knowledge base has no passage for {question!r}")
        try:
            completion = await orch.router.acomplete(
                MODEL_KIND,
                rag_messages(question, passages, s.max_passage_chars),
                max_tokens=s.max_tokens,
                temperature=s.temperature,
                logprobs=True,
            )
        except BudgetExceeded as exc:
            return _abstain(note_budget(log, exc))
        except ModelError as exc:
            return model_failed(exc)
    finally:
        await calls.aclose()
    text = answer_text(completion.text)
    if not text:
        return _abstain("the model wrote no answer")
    if _DONT_KNOW.search(text):
        return _abstain(f"the model said the passages do not answer it: {text!r}")
    confidence = answer_confidence(completion, text)
    cited = cited_passages(text, len(passages))
    signals = {**confidence.signals, "passages": len(passages), "cited": cited}
    return Answer(
        text=text,
        # "[2]" is a citation, not a number the answer states.
        value=parse_value(" ".join(_CITED.sub(" ", text).split())),
        status=AnswerStatus.ANSWERED,
        confidence=confidence.model_copy(update={"signals": signals}),
        claims=[Claim(text=text, task_ids=[found.task_id])],
    )


def rag_messages(question: str, passages: list[dict[str, Any]], limit: int) -> list[Message]:
    """The prompt: numbered passages with their source and heading, then the question."""
    blocks = []
    for i, p in enumerate(passages, start=1):
        text = str(p.get("text", ""))
        if len(text) > limit:
            text = text[: limit - 3] + "..."
        where = str(p.get("source", "")).rsplit("/", 1)[-1]
        heading = str(p.get("heading") or "")
        blocks.append(f"[{i}] ({where}{' § ' + heading if heading else ''})\n{text}")
    context = "\n\n".join(blocks)
    return [
        system(SYSTEM),
        user(f"Context:\n{context}\n\nQuestion: {question}\nAnswer:"),
    ]


def answer_text(raw: str) -> str:
    """The first non-empty line of the completion, without an ``Answer:`` prefix."""
    for line in raw.strip().splitlines():
        line = line.strip().removeprefix("Answer:").strip()
        if line:
            return line
    return ""


def cited_passages(text: str, n: int) -> list[int]:
    """The passage numbers (1-based, within 1..n) the answer cites as ``[k]``."""
    return sorted({int(m) for m in _CITED.findall(text) if 1 <= int(m) <= n})


def _abstain(reason: str) -> Answer:
    return Answer(
        text=f"I could not answer ({reason}), so I will not guess.",
        status=AnswerStatus.ABSTAINED,
        confidence=NO_CONFIDENCE,
        gaps=[reason],
    )


__all__ = ["SEARCH_TOOL", "RagSettings", "answer_text", "cited_passages", "rag_messages", "run_rag"]
