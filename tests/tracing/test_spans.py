"""Spans built from the event log: names, parents, attributes, and a resume joining the trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from veritask import Orchestrator, ToolError
from veritask.runtime.scheduler import RuntimeOptions
from veritask.store import open_store
from veritask.store.base import NewEvent
from veritask.tools import ToolRegistry
from veritask.tracing import (
    TraceListener,
    export,
    listener_from_env,
    spans_from_events,
    trace_id_hex,
    trace_id_of,
)
from veritask.types import Event, EventType

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tools(registry: ToolRegistry) -> ToolRegistry:
    failures = {"left": 1}

    @registry.tool(idempotent=True)
    def lookup(country: str, api_key: str = "") -> int:
        """Population of a country; fails once with a retryable error."""
        if failures["left"]:
            failures["left"] -= 1
            raise ToolError("source busy", retryable=True)
        return 1000

    return registry


PLAN = {
    "goal": "population",
    "tasks": [
        {"id": "p", "tool": "lookup", "args": {"country": "France", "api_key": "k-123"}},
        {"id": "total", "tool": "calc", "args": {"expression": "$p * 2"}},
    ],
}


def by_name(spans: list[ReadableSpan]) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for s in spans:
        out.setdefault(s.name, []).append(s)
    return out


def test_live_run_with_a_retry(tools: ToolRegistry, exporter: InMemorySpanExporter) -> None:
    listener = TraceListener(SimpleSpanProcessor(exporter))
    orch = Orchestrator(
        store="memory://",
        registry=tools,
        memory=False,
        listeners=[listener],
        options=RuntimeOptions(sleep=_no_sleep, rand=lambda: 0.0),
    )
    result = orch.execute(PLAN)
    spans = exporter.get_finished_spans()
    named = by_name(list(spans))
    root = named["invoke_workflow"][0]
    assert root.parent is None
    assert root.context.trace_id == trace_id_of(result.run_id)
    assert f"{root.context.trace_id:032x}" == trace_id_hex(result.run_id)
    assert root.attributes["veritask.status"] == "succeeded"
    first, second = named["execute_tool lookup"]
    for span in (first, second, *named["execute_tool calc"]):
        assert span.parent is not None and span.parent.span_id == root.context.span_id
        assert span.context.trace_id == root.context.trace_id
        assert span.attributes["gen_ai.operation.name"] == "execute_tool"
    assert first.attributes["gen_ai.tool.name"] == "lookup"
    assert first.attributes["gen_ai.tool.call.id"] == f"{result.run_id}:p:1"
    assert first.attributes["veritask.task.retried"] is True
    assert first.attributes["error.type"] == "ToolError" or first.attributes["error.type"]
    assert first.status.status_code is StatusCode.ERROR
    assert second.attributes["gen_ai.tool.call.id"] == f"{result.run_id}:p:2"
    assert second.attributes["veritask.task.status"] == "succeeded"
    assert second.attributes["veritask.task.attempt"] == 2
    assert second.attributes["veritask.confidence"] == 1.0
    assert "k-123" not in str(second.attributes["gen_ai.tool.call.arguments"])  # redacted
    assert first.end_time is not None and second.start_time is not None
    assert first.end_time <= second.start_time  # times from the events' `at`
    # The same mapping after the fact gives the same spans (ids included).
    again = InMemorySpanExporter()
    export(spans_from_events(orch.store.events(result.run_id)), again)
    assert {(s.name, s.context.span_id) for s in again.get_finished_spans()} == {
        (s.name, s.context.span_id) for s in spans
    }


def _ev(seq: int, type: EventType, data: dict[str, Any]) -> Event:
    return Event(run_id="r1", seq=seq, at=T0 + timedelta(seconds=seq), type=type, data=data)


def test_question_run_planning_chat_escalation_and_answer(exporter: InMemorySpanExporter) -> None:
    usage = {"input_tokens": 900, "output_tokens": 40, "latency_s": 0.5, "model_calls": 1}
    plan = {"goal": "q", "tasks": [{"id": "a", "tool": "calc", "args": {"expression": "1"}}]}
    outcome = {
        "task_id": "a",
        "status": "succeeded",
        "value": 1,
        "confidence": {"score": 1.0, "method": "tool", "signals": {}},
        "attempts": 1,
    }
    events = [
        _ev(1, EventType.RUN_STARTED, {"goal": "q", "options": {"mode": "orchestrated"}}),
        _ev(
            2,
            EventType.PLAN_PROPOSED,
            {
                "text": "",
                "problems": [],
                "round": 0,
                "valid": True,
                "model": "openai:gpt-4o-mini",
                "usage": usage,
            },
        ),
        _ev(
            3,
            EventType.PLAN_PROPOSED,
            {
                "text": "",
                "problems": ["model failed: 429"],
                "round": 0,
                "valid": False,
                "model": "openai:gpt-4o-mini",
                "usage": None,
                "error_type": "RateLimited",
            },
        ),
        _ev(
            4,
            EventType.ESCALATED,
            {
                "target": "plan",
                "rung": "resample",
                "taken": True,
                "before": 0.5,
                "after": 0.8,
                "reason": "",
                "usage": usage,
            },
        ),
        _ev(5, EventType.PLAN_ACCEPTED, {"plan": plan, "confidence": 0.8, "votes": 4}),
        _ev(6, EventType.TASK_STARTED, {"task_id": "a", "attempt": 1}),
        _ev(7, EventType.TASK_SUCCEEDED, {"task_id": "a", "outcome": outcome}),
        _ev(
            8,
            EventType.ANSWER_ASSEMBLED,
            {"answer": {"text": "1", "status": "answered", "confidence": {"score": 0.8}}},
        ),
        _ev(9, EventType.RUN_FINISHED, {"status": "succeeded", "usage": usage}),
    ]
    export(spans_from_events(events), exporter)
    named = by_name(list(exporter.get_finished_spans()))
    root = named["invoke_workflow"][0]
    planning = named["plan"][0]
    assert planning.parent is not None and planning.parent.span_id == root.context.span_id
    ok, failed = named["chat gpt-4o-mini"]
    for chat in (ok, failed):
        assert chat.parent is not None and chat.parent.span_id == planning.context.span_id
        assert chat.attributes["gen_ai.provider.name"] == "openai"
        assert chat.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert ok.attributes["gen_ai.usage.input_tokens"] == 900
    assert ok.attributes["gen_ai.usage.output_tokens"] == 40
    assert ok.end_time is not None and ok.start_time is not None
    assert ok.end_time - ok.start_time == 500_000_000  # the call's latency
    assert failed.attributes["error.type"] == "RateLimited"
    assert failed.status.status_code is StatusCode.ERROR
    rung = named["escalate resample"][0]
    assert rung.parent is not None and rung.parent.span_id == planning.context.span_id
    assert rung.attributes["veritask.confidence.after"] == 0.8
    assert planning.attributes["veritask.plan.confidence"] == 0.8
    assemble = named["assemble"][0]
    assert assemble.attributes["veritask.answer.status"] == "answered"
    assert root.start_time == int(T0.timestamp() * 1e9) + 1_000_000_000


def test_resume_joins_the_trace(tools: ToolRegistry, exporter: InMemorySpanExporter) -> None:
    store = open_store("memory://")
    run_id = "run-resumed"
    plan = {"goal": "population", "tasks": PLAN["tasks"]}
    # The first driver crashed while `p` was running: its log ends at TaskStarted.
    store.append(
        run_id,
        [
            NewEvent(EventType.RUN_STARTED, {"goal": "population", "options": {}}),
            NewEvent(EventType.PLAN_ACCEPTED, {"plan": plan}),
            NewEvent(EventType.TASK_STARTED, {"task_id": "p", "attempt": 1}),
        ],
    )
    assert spans_from_events(store.events(run_id)) == []  # nothing closed yet
    listener = TraceListener(SimpleSpanProcessor(exporter), history=store.events)
    orch = Orchestrator(
        store=store,
        registry=tools,
        memory=False,
        listeners=[listener],
        options=RuntimeOptions(sleep=_no_sleep, rand=lambda: 0.0),
    )
    result = orch.resume(run_id)
    assert result.status.value == "succeeded"
    spans = list(exporter.get_finished_spans())
    named = by_name(spans)
    root = named["invoke_workflow"][0]
    started = store.events(run_id)[0].at
    assert root.start_time == int(started.timestamp() * 1e9)  # from the first driver's log
    assert {s.context.trace_id for s in spans} == {trace_id_of(run_id)}
    assert named["resume"][0].parent.span_id == root.context.span_id  # type: ignore[union-attr]
    # The attempt the crash cut off is one span, from its TaskStarted before the crash.
    interrupted = named["execute_tool lookup"][0]
    assert interrupted.start_time == int(store.events(run_id)[2].at.timestamp() * 1e9)
    assert all(s.parent is None or s.parent.span_id == root.context.span_id for s in spans)


def test_tracing_is_off_unless_otel_env_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert listener_from_env() is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert listener_from_env() is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert isinstance(listener_from_env(), TraceListener)
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert listener_from_env() is None


def test_runtime_attaches_the_listener_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    orch = Orchestrator(store="memory://", memory=False)
    assert any(isinstance(x, TraceListener) for x in orch.listeners)
