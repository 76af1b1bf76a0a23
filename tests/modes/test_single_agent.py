"""The single-agent baseline: a ReAct loop over the real tools, driven by a scripted model."""

from __future__ import annotations

import io

from rich.console import Console

from modes._helpers import MakeOrch, last_observation, population
from veritask.cli_render import state_view
from veritask.config import Budget
from veritask.models import Completion, ScriptedCall
from veritask.models.scripted import token_logprobs
from veritask.pipeline.modes.react import hint_names, parse_turn, turn_grammar
from veritask.runtime.result import answer_json
from veritask.tools import ToolRegistry, default_registry
from veritask.tools.registry import ToolResult
from veritask.types import AnswerStatus, ConfidenceMethod, EventType, OutcomeStatus, RunStatus

QUESTION = "What is the combined population of Chile and Peru?"


def add_observed(call: ScriptedCall) -> str:
    """A turn that adds the two populations it was shown (read from the transcript)."""
    seen = [m["content"] for m in call.messages if m["content"].startswith("Observation: {")]
    pops = [int(s.split('"population": ')[1].split(",")[0]) for s in seen[-2:]]
    return f'Thought: Add them.\nAction: calc("{pops[0]} + {pops[1]}")'


def final_from_observation(call: ScriptedCall) -> str:
    return f"Thought: That is the sum.\nFinal Answer: {last_observation(call)}"


def test_full_episode_answers_from_a_tool_observation(scripted: MakeOrch) -> None:
    orch, model = scripted(
        [
            'Thought: I need Chile.\nAction: country_facts("Chile")',
            'Thought: Now Peru.\nAction: country_facts("Peru")',
            add_observed,
            final_from_observation,
        ]
    )
    result = orch.run(QUESTION, mode="single-agent")

    expected = population("Chile") + population("Peru")
    answer = result.answer
    assert answer is not None
    assert answer.status is AnswerStatus.ANSWERED and result.status is RunStatus.SUCCEEDED
    assert answer.value == expected and answer.text == str(expected)
    assert answer.claims[0].task_ids == ["a1", "a2", "a3"]
    assert answer.gaps == []
    # Scripted token logprobs of 0.8 per token: the logprob confidence, not a made-up number.
    assert answer.confidence.method is ConfidenceMethod.LOGPROB
    assert abs(answer.confidence.score - 0.8) < 1e-6
    assert answer.confidence.signals["steps"] == 4

    tools = {tid: o.evidence[0].tool for tid, o in result.outcomes.items()}
    assert tools == {"a1": "country_facts", "a2": "country_facts", "a3": "calc"}
    assert result.outcomes["a3"].value == expected
    assert result.usage.model_calls == 4

    first = model.calls[0]
    assert "country_facts(country)" in first.system and "Thought:" in first.system
    assert first.prompt == f"Question: {QUESTION}"
    assert first.logprobs and first.grammar is not None
    assert '"Chile"' in first.grammar and '"Peru"' in first.grammar
    # Numbers the model has seen become grammar alternatives, so it can copy them exactly.
    assert f'"{population("Chile")}"' in model.calls[2].grammar
    assert last_observation(model.calls[1])["name"] == "Chile"


def test_every_tool_call_is_a_logged_task_that_show_lists(scripted: MakeOrch) -> None:
    orch, _ = scripted(
        [
            'Thought: a\nAction: country_facts("Chile")',
            'Thought: b\nAction: country_facts("Atlantis")',
            "Thought: c\nFinal Answer: Chile",
        ]
    )
    result = orch.run("Where is Chile?", mode="single-agent")
    events = orch.store.events(result.run_id)
    task_events = [(e.type, e.data["task_id"]) for e in events if "task_id" in e.data]
    assert task_events == [
        (EventType.TASK_STARTED, "a1"),
        (EventType.TASK_SUCCEEDED, "a1"),
        (EventType.TASK_STARTED, "a2"),
        (EventType.TASK_FAILED, "a2"),
    ]
    assert events[0].data["options"]["mode"] == "single-agent"

    state = orch.state(result.run_id)
    assert state.outcomes["a2"].evidence[0].query == {"country": "Atlantis"}
    console = Console(file=io.StringIO(), width=200, record=True)
    console.print(state_view(state))
    shown = console.export_text()
    for fragment in ("a1", "a2", "CL", "country_facts", "Atlantis"):
        assert fragment in shown, fragment

    as_json = answer_json(result)
    assert [(t["id"], t["tool"], t["status"]) for t in as_json["tasks"]] == [
        ("a1", "country_facts", "succeeded"),
        ("a2", "country_facts", "failed"),
    ]


def test_a_tool_error_is_observed_and_recovered_from(scripted: MakeOrch) -> None:
    orch, model = scripted(
        [
            'Thought: look it up\nAction: country_facts("Atlantis")',
            'Thought: that failed, try the real name\nAction: country_facts("Chile")',
            lambda call: f"Thought: done\nFinal Answer: {last_observation(call)['capital']}",
        ]
    )
    result = orch.run("What is the capital of Chile?", mode="single-agent")

    answer = result.answer
    assert answer is not None and answer.status is AnswerStatus.ANSWERED
    assert answer.text == "Santiago" and answer.value == "Santiago"
    assert model.calls[1].prompt.startswith("Observation: Error:")
    assert "Atlantis" in model.calls[1].prompt
    assert result.outcomes["a1"].status is OutcomeStatus.FAILED
    assert answer.claims[0].task_ids == ["a2"]
    assert len(answer.gaps) == 1 and answer.gaps[0].startswith('a1 country_facts("Atlantis")')


def test_repeating_a_call_ends_the_loop(scripted: MakeOrch) -> None:
    same = 'Thought: Chile\nAction: country_facts("Chile")'
    orch, model = scripted([same, same])
    result = orch.run("How many people live in Chile?", mode="single-agent")

    answer = result.answer
    assert answer is not None and answer.status is AnswerStatus.ABSTAINED
    assert answer.confidence.score == 0.0 and answer.value is None
    assert "repeated country_facts" in answer.gaps[0]
    assert list(result.outcomes) == ["a1"]  # the repeat was not run
    assert model.remaining == 0 and len(model.calls) == 2
    assert result.status is RunStatus.FAILED


def test_step_cap_abstains_without_a_seventh_model_call(scripted: MakeOrch) -> None:
    script = [f'Thought: try\nAction: calc("{n} + 1")' for n in range(6)]
    orch, model = scripted(script)  # a 7th call would raise ScriptExhausted
    result = orch.run("What is 5 plus 1?", mode="single-agent")

    answer = result.answer
    assert answer is not None and answer.status is AnswerStatus.ABSTAINED
    assert answer.gaps == ["no final answer within 6 steps"]
    assert list(result.outcomes) == [f"a{i}" for i in range(1, 7)]
    assert len(model.calls) == 6


def test_a_turn_that_does_not_parse_is_sent_back_as_an_error(scripted: MakeOrch) -> None:
    orch, model = scripted(["I think the answer is big.", "Thought: ok\nFinal Answer: 7."])
    result = orch.run("What is 3 plus 4?", mode="single-agent")

    assert "Final Answer" in model.calls[1].prompt and "Error" in model.calls[1].prompt
    assert result.outcomes == {}
    answer = result.answer
    assert answer is not None and answer.status is AnswerStatus.ANSWERED and answer.value == 7


def test_budget_exhaustion_mid_loop_ends_with_what_it_has(scripted: MakeOrch) -> None:
    orch, model = scripted(
        [
            'Thought: a\nAction: country_facts("Chile")',
            'Thought: b\nAction: country_facts("Peru")',
            'Thought: c\nAction: calc("1 + 1")',
        ],
        budget=Budget(max_model_calls=2),
    )
    result = orch.run(QUESTION, mode="single-agent")

    answer = result.answer
    assert answer is not None and answer.status is AnswerStatus.ABSTAINED
    assert len(model.calls) == 2 and model.remaining == 1
    assert list(result.outcomes) == ["a1", "a2"]
    assert "budget for model_calls exceeded" in answer.gaps[0]
    assert result.budget_exceeded is not None
    assert result.budget_exceeded["resource"] == "model_calls"
    assert any("budget for model_calls" in g for g in result.gaps)


def test_task_budget_stops_tool_calls(scripted: MakeOrch) -> None:
    orch, _ = scripted(
        [
            'Thought: a\nAction: country_facts("Chile")',
            'Thought: b\nAction: country_facts("Peru")',
        ],
        budget=Budget(max_tasks=1),
    )
    result = orch.run(QUESTION, mode="single-agent")
    assert list(result.outcomes) == ["a1"]
    assert result.answer is not None and result.answer.status is AnswerStatus.ABSTAINED
    assert result.budget_exceeded is not None and result.budget_exceeded["resource"] == "tasks"


def test_a_model_failure_fails_the_answer_with_a_gap(scripted: MakeOrch) -> None:
    from veritask.errors import ModelError

    orch, _ = scripted([ModelError("backend down", retryable=False)])
    result = orch.run(QUESTION, mode="single-agent")
    assert result.answer is not None and result.answer.status is AnswerStatus.FAILED
    assert "backend down" in result.answer.gaps[0]


# -- the turn format on its own ----------------------------------------------------


def test_grammar_offers_question_spans_and_observed_values() -> None:
    grammar = turn_grammar(
        "How far is Lima from Quito?",
        default_registry(),
        [{"name": "Peru", "capital": "Lima", "population": 29381884, "neighbours": ["Chile"]}],
    )
    assert 'ent ::= "Lima" | "Quito" | "Peru" | "Chile"' in grammar
    assert '"29381884"' in grammar
    assert '"distance_km(" sarg ", " sarg ")"' in grammar
    assert '"larger(" sarg ", " num ", " sarg ", " num ")"' in grammar
    assert '"city_facts(" sarg (", " sarg )? ")"' in grammar


def test_parse_turn_reads_actions_answers_and_problems() -> None:
    reg = default_registry()
    turn = parse_turn('Thought: x\nAction: larger("Chile", 19116201, "Peru", 29381884)', reg)
    assert turn.tool == "larger"
    assert turn.args == {
        "first": "Chile",
        "first_value": 19116201,
        "second": "Peru",
        "second_value": 29381884,
    }
    assert parse_turn("Thought: y\nFinal Answer: Peru", reg).final == "Peru"
    assert "unknown tool" in (parse_turn('Action: weather("Lima")', reg).problem or "")
    assert "at most 1" in (parse_turn('Action: country_facts("a", "b")', reg).problem or "")
    assert "cannot read" in (parse_turn("Action: calc(1 +)", reg).problem or "")


def test_confidence_comes_from_the_answer_tokens_not_the_thought(scripted: MakeOrch) -> None:
    text = "Thought: 42 maybe\nFinal Answer: 42"
    probs = [0.9, 0.1, 0.9, 0.9, 0.9, 0.7]  # the thought's "42" is unsure, the answer's is not
    completion = Completion(text=text, token_logprobs=token_logprobs(text, probs))
    orch, _ = scripted([completion])
    result = orch.run("What is 6 times 7?", mode="single-agent")
    assert result.answer is not None and result.answer.value == 42
    assert abs(result.answer.confidence.score - 0.7) < 1e-6


def test_names_in_an_error_message_become_arguments(scripted: MakeOrch) -> None:
    orch, model = scripted(
        [
            'Thought: a\nAction: country_facts("Ouagadougou")',
            'Thought: b\nAction: country_facts("Burkina Faso")',
            "Thought: c\nFinal Answer: Africa",
        ]
    )
    result = orch.run(
        "On which continent is the country whose capital is Ouagadougou?", mode="single-agent"
    )
    assert '"Burkina Faso"' not in (model.calls[0].grammar or "")
    assert '"Burkina Faso"' in (model.calls[1].grammar or "")
    assert result.outcomes["a2"].value["continent"] == "Africa"
    assert hint_names("Error: no country named 'Atlantis'") == ["Atlantis"]


def test_a_tool_that_found_no_answer_is_observed_as_an_error_and_a_gap(
    scripted: MakeOrch,
) -> None:
    registry = ToolRegistry([default_registry().get("calc")])

    @registry.tool(name="find")
    def find(key: str) -> ToolResult:
        """Look a key up; may find nothing."""
        return ToolResult(None, no_answer=f"find: no record for {key!r}")

    orch, model = scripted(
        ['Thought: look it up\nAction: find("Atlantis")', "Thought: no luck\nFinal Answer: 2"],
        registry=registry,
    )
    result = orch.run("What is the code of Atlantis?", mode="single-agent")
    failed = result.outcomes["a1"]
    assert failed.status is OutcomeStatus.FAILED and failed.value is None
    assert failed.error is not None and failed.error.type == "NoAnswer"
    assert model.calls[1].prompt.startswith("Observation: Error:")
    assert "no record for 'Atlantis'" in model.calls[1].prompt
