"""The `llm` toolkit: model workers as plan tasks, each with its own confidence.

`llm.extract(text, what)` copies a span of a text, `llm.classify(text, labels)`
picks one label, `llm.judge(claim, evidence)` says supported, contradicted or
not_enough_info, and `deep_agent(goal, max_steps)` hands a sub-goal that needs
several steps to a bounded agent (bound to the Orchestrator that runs it).
The workers' output is grammar-constrained and their confidence comes from
token log-probabilities or agreement between samples (see
`veritask.models.workers`), so a task under its `min_confidence` can climb
the escalation ladder. `--toolkit llm` (or `Orchestrator(toolkits=[llm])`)
plans with them; an Orchestrator runs plans that call them in any case.
"""

from __future__ import annotations

from veritask.models.workers import worker_specs
from veritask.pipeline.agent_step import deep_agent_spec
from veritask.tools.toolkit import Toolkit, register_toolkit

llm = register_toolkit(
    Toolkit(
        name="llm",
        description="Read a given text with a model: copy a span, classify it, judge a claim.",
        tools=[*worker_specs(), deep_agent_spec(None)],
        examples=[
            (
                "In the text 'The meeting moved to Room 4B on Friday.', where is the meeting?",
                {
                    "tasks": [
                        {
                            "id": "t1",
                            "tool": "llm.extract",
                            "args": {
                                "text": "The meeting moved to Room 4B on Friday.",
                                "what": "where the meeting is",
                            },
                        }
                    ],
                    "answer_template": "The meeting is in {$t1}.",
                },
            ),
            (
                "Does 'Paris has 2.1 million inhabitants' back the claim that Paris is small?",
                {
                    "tasks": [
                        {
                            "id": "t1",
                            "tool": "llm.judge",
                            "args": {
                                "claim": "Paris is small",
                                "evidence": "Paris has 2.1 million inhabitants",
                            },
                        }
                    ],
                    "answer_template": "Verdict: {$t1}.",
                },
            ),
        ],
        notes="llm.* tools read text given in the question or a task's text field; "
        "they never look facts up.",
    )
)

__all__ = ["llm"]
