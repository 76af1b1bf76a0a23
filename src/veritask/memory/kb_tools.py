"""The knowledge-base tools (`kb_search`, `kb_answer`) and a toolkit bound to named KBs.

Why here and not in `veritask.toolkits.kb`: `Orchestrator(knowledge=[...])`
(the pipeline layer) must build a toolkit bound to the KBs it was given, and
the pipeline may import `veritask.memory` but not `veritask.toolkits`. The
`kb` entry-point toolkit (`veritask.toolkits.kb`) is `knowledge_toolkit`
bound to ``$VERITASK_KB`` (default ``default``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict, cast

from veritask.errors import ToolError, VeritaskError
from veritask.memory.kb import KnowledgeBase, Passage
from veritask.memory.kb_answer import DEFAULT_THRESHOLD, KBAnswer, answer_from
from veritask.tools.questions import Question
from veritask.tools.registry import ToolResult, make_spec
from veritask.tools.toolkit import Toolkit
from veritask.types import Confidence, ConfidenceMethod, Source

KB_ENV = "VERITASK_KB"
DEFAULT_KB = "default"


class PassageDict(TypedDict):
    """One passage `kb_search` returns."""

    text: str
    source: str
    heading: str
    start: int
    end: int
    score: float


class KBAnswerDict(TypedDict):
    """What `kb_answer` returns: `$t1.answer` is the quote with its citation (file,
    heading, character span), so an answer template of `{$t1.answer}` names its source;
    `quote` is the copied text alone. No numeric field: the confidence is on the
    outcome, and a number here was what a planner stated for "how many …?"."""

    answer: str
    quote: str
    source: str
    heading: str
    start: int
    end: int
    citation: str


EXAMPLES: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "According to the documents, how many days of notice does a tenant have to give?",
        {
            "tasks": [
                {
                    "id": "t1",
                    "tool": "kb_answer",
                    "args": {"question": "how many days of notice does a tenant have to give?"},
                }
            ],
            "answer_template": "{$t1.answer}",
        },
    ),
    (
        "What does the manual say about resetting the router?",
        {
            "tasks": [
                {
                    "id": "t1",
                    "tool": "kb_answer",
                    "args": {"question": "how to reset the router"},
                }
            ],
            "answer_template": "{$t1.answer}",
        },
    ),
)

NOTES = (
    "Questions about the user's documents are answered with kb_answer, whose answer is a "
    "quote; pass the question itself. Use kb_search only to list passages."
)


class _Bound:
    """The KBs a toolkit searches, opened on first use (so planning opens nothing)."""

    def __init__(self, names: Sequence[str], directory: str | Path | None) -> None:
        self.names = list(names)
        self.directory = directory
        self._kbs: list[KnowledgeBase] | None = None
        self._lock = threading.Lock()

    def kbs(self) -> list[KnowledgeBase]:
        with self._lock:
            if self._kbs is None:
                self._kbs = [
                    KnowledgeBase(n, directory=self.directory, create=False) for n in self.names
                ]
            return self._kbs

    def search(self, query: str, k: int) -> list[Passage]:
        kbs = self.kbs()
        if len(kbs) == 1:
            return kbs[0].search(query, k)
        merged = [p for kb in kbs for p in kb.search(query, k)]
        return sorted(merged, key=lambda p: -p.score)[:k]


def _evidence(tool: str, query: dict[str, Any], p: Passage, start: int, end: int) -> Source:
    return Source(
        tool=tool,
        query=query,
        source=p.source,
        record_id=f"{p.source}:{start}-{end}",
        fields={"heading": p.heading, "text": p.text, "start": start, "end": end},
    )


def citation(source: str, heading: str, start: int, end: int) -> str:
    """``handbook.md § Leave, chars 58-103``: where a quote is, for a reader to check."""
    name = Path(source).name
    where = f" § {heading}" if heading else ""
    return f"{name}{where}, chars {start}-{end}"


def knowledge_toolkit(
    names: Sequence[str],
    *,
    directory: str | Path | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    answer_k: int = 5,
    reader_model: Any = None,
) -> Toolkit:
    """A `kb` toolkit whose `kb_search` and `kb_answer` read the knowledge bases ``names``.

    ``answer_k``: how many passages `kb_answer` reads. ``reader_model``: a
    `veritask.models` provider that votes among the reader's best sentences
    (`kb_reader.model_choice`); None (the default) reads by scoring alone, the
    configuration measured in docs/benchmarks/kb.md.

    Each call opens the KBs lazily; a KB that does not exist fails the task
    with a message naming the ``veritask ingest`` command that creates it.
    """
    bound = _Bound(names, directory)
    label = ", ".join(names)

    def kb_search(query: str, k: int = 5) -> list[PassageDict]:
        """Search the documents (knowledge base) for passages about `query`.

        Args:
            query: what to look for, in plain words.
            k: how many passages to return.
        """
        passages = bound.search(query, max(1, min(k, 20)))
        value = [
            PassageDict(
                text=p.text,
                source=p.source,
                heading=p.heading,
                start=p.start,
                end=p.end,
                score=round(p.score, 5),
            )
            for p in passages
        ]
        args: dict[str, Any] = {"query": query, "k": k}
        evidence = [_evidence("kb_search", args, p, p.start, p.end) for p in passages]
        confidence = Confidence(
            score=1.0 if passages else 0.0,
            method=ConfidenceMethod.TOOL,
            signals={"passages": len(passages), "kb": label},
        )
        return cast(
            list[PassageDict], ToolResult(value=value, evidence=evidence, confidence=confidence)
        )

    def kb_answer(question: Question) -> KBAnswerDict:
        """Answer a question from the documents (knowledge base) with a quote: the answer is
        copied from a passage and names its file, heading and character span; fails
        (abstains) when no passage states it.

        Args:
            question: the question, in plain words.
        """
        # No `k` parameter: a small planner model filled it with numbers the question
        # never states ("0"), and the planner rightly refused those plans.
        kbs = bound.kbs()
        passages = bound.search(question, answer_k)
        result: KBAnswer = answer_from(
            question, passages, embedder=kbs[0].embedder, model=reader_model, threshold=threshold
        )
        if not result.answered or result.span is None:
            raise ToolError(
                f"knowledge base {label!r}: {result.searched()} "
                f"(confidence {result.confidence:.2f} < {threshold:.2f})",
                kind="NotInKnowledgeBase",
            )
        span = result.span
        p = span.passage
        value = KBAnswerDict(
            # Shown with its line breaks folded; `quote` keeps the exact characters.
            answer=f"“{' '.join(span.text.split())}” "
            f"({citation(p.source, p.heading, span.start, span.end)})",
            quote=span.text,
            source=p.source,
            heading=p.heading,
            start=span.start,
            end=span.end,
            citation=citation(p.source, p.heading, span.start, span.end),
        )
        args: dict[str, Any] = {"question": question}
        evidence = [_evidence("kb_answer", args, p, span.start, span.end)]
        confidence = Confidence(
            score=result.confidence,
            method=ConfidenceMethod.COMPOSITE,
            signals={**result.signals, "flagged_passages": list(result.flagged)},
        )
        return cast(KBAnswerDict, ToolResult(value=value, evidence=evidence, confidence=confidence))

    specs = [
        make_spec(kb_search, idempotent=True, timeout_s=60),
        make_spec(kb_answer, idempotent=True, timeout_s=60),
    ]
    return Toolkit(
        name="kb",
        description=(
            f"Passages and quoted answers from the user's documents (knowledge base {label})."
        ),
        tools=specs,
        examples=EXAMPLES,
        vocabulary={
            "kb_answer": ["document", "documents", "handbook", "manual", "docs", "according to"],
            "kb_search": ["find passages", "search the documents"],
            "answer": _kb_words(names, directory),
        },
        notes=NOTES,
    )


def _kb_words(names: Sequence[str], directory: str | Path | None) -> list[str]:
    """The words of the bound KBs' documents (none for a KB not ingested yet)."""
    words: list[str] = []
    for name in names:
        try:
            with KnowledgeBase(name, directory=directory, embedder=False, create=False) as kb:
                words += kb.vocabulary()
        except VeritaskError:
            continue
    return list(dict.fromkeys(words))


def default_kb_name() -> str:
    """The KB the entry-point `kb` toolkit reads: ``$VERITASK_KB`` or ``default``."""
    return os.environ.get(KB_ENV) or DEFAULT_KB


__all__ = [
    "DEFAULT_KB",
    "KB_ENV",
    "KBAnswerDict",
    "PassageDict",
    "citation",
    "default_kb_name",
    "knowledge_toolkit",
]
