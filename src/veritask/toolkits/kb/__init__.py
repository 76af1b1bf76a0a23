"""The `kb` toolkit: answer from your own documents, with quotes.

`veritask ingest PATH --kb NAME` builds a knowledge base; `--kb NAME` on
`run`, `plan` and `bench` (or `Orchestrator(knowledge=[NAME])`) plans with a
`kb` toolkit bound to it. This module is what the `veritask.toolkits` entry
point `kb` names: the same toolkit bound to ``$VERITASK_KB`` (default
``default``), for `--toolkit kb`. The tools themselves live in
`veritask.memory.kb_tools` so the pipeline can bind them to a KB by name.
"""

from __future__ import annotations

from veritask.memory.kb_tools import default_kb_name, knowledge_toolkit

kb = knowledge_toolkit([default_kb_name()])

__all__ = ["kb", "knowledge_toolkit"]
