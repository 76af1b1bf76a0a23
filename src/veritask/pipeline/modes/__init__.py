"""The baseline modes veritask is compared against: same tools, same model, no plan.

- `single-agent`: one model in a bounded, grammar-constrained ReAct loop
  (`single_agent.py`), the way a LangChain tool-calling agent works;
- `static`: a fixed find-entities → look-up → one-model-call workflow
  (`static.py`);
- `rag`: retrieve top-k passages from the knowledge base, put them in the
  prompt, generate freely (`rag.py`) — the plain RAG pipeline that quoted
  `kb_answer` answers are compared with.

`runtime.question.run_question` opens the run, binds the budget meter and
finishes the run; a mode only turns the question into an `Answer`, logging
each tool call as a task on the way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from veritask.errors import UserError
from veritask.pipeline.modes.rag import RagSettings, run_rag
from veritask.pipeline.modes.single_agent import AgentSettings, run_single_agent
from veritask.pipeline.modes.static import StaticSettings, run_static
from veritask.types import Answer

if TYPE_CHECKING:
    from veritask.pipeline.orchestrator import Orchestrator
    from veritask.runtime.eventlog import EventLog

BASELINE_MODES = ("single-agent", "static", "rag")


async def run_mode(mode: str, question: str, orch: Orchestrator, log: EventLog) -> Answer:
    """Answer `question` in a baseline `mode`, writing its tool calls to `log`."""
    if mode == "single-agent":
        return await run_single_agent(question, orch, log)
    if mode == "static":
        return await run_static(question, orch, log)
    if mode == "rag":
        return await run_rag(question, orch, log)
    raise UserError(f"unknown baseline mode {mode!r}; use one of: {', '.join(BASELINE_MODES)}")


__all__ = [
    "BASELINE_MODES",
    "AgentSettings",
    "RagSettings",
    "StaticSettings",
    "run_mode",
    "run_rag",
    "run_single_agent",
    "run_static",
]
