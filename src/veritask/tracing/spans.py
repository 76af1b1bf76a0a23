"""Events → spans: the one mapping from a run's log to a trace.

Nothing in the runtime or the pipeline calls a tracer. A trace is *derived*
from the event log, like every other view of a run, so a finished run can be
traced after the fact (`spans_from_events`) and a live run by a listener that
feeds its events to the same `SpanBuilder` as they become durable.

Identifiers are deterministic: the trace id is a hash of the run id and each
span id a hash of the run id and the event that opened the span. A resumed
run, driven by another process that only sees the new events, therefore
continues the same trace under the same workflow span, and exporting a span
twice yields the same span, not a duplicate with a new id.

Names and attributes follow the OpenTelemetry GenAI semantic conventions
(`invoke_workflow`, `execute_tool {tool}`, `chat {model}`, `gen_ai.*`); what
they have no word for is under `veritask.*`. Values that look like credentials
are redacted (veritask.redact) before they become attributes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from veritask.redact import redact, redact_text
from veritask.types import TERMINAL_TASK_EVENTS, Event, EventType

AttributeValue = str | bool | int | float


def trace_id_of(run_id: str) -> int:
    """The 128-bit trace id of a run: the same for every process that drives it."""
    return int.from_bytes(hashlib.sha256(f"veritask-trace:{run_id}".encode()).digest()[:16]) or 1


def span_id_of(run_id: str, key: str) -> int:
    """A 64-bit span id from the run and what the span stands for (`workflow`, `seq:12`)."""
    digest = hashlib.sha256(f"veritask-span:{run_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8]) or 1


def trace_id_hex(run_id: str) -> str:
    """The trace id as trace viewers print it (32 hex digits)."""
    return f"{trace_id_of(run_id):032x}"


@dataclass(frozen=True)
class SpanRecord:
    """One finished span, independent of any tracing library."""

    name: str
    trace_id: int
    span_id: int
    parent_id: int | None
    start: datetime
    end: datetime
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    error: str | None = None
    """The error's description when the span failed (status ERROR), else None."""
    kind: str = "internal"
    """`internal` or `client` (a call to a model provider)."""


@dataclass
class _Open:
    span_id: int
    start: datetime
    attributes: dict[str, AttributeValue]


def _provider(model: str) -> tuple[str, str]:
    """(provider, model) from `openai:gpt-4o`-style names."""
    if ":" in model:
        provider, name = model.split(":", 1)
        return provider, name
    return "", model


def _json(value: Any, limit: int = 4000) -> str:
    text = json.dumps(redact(value), default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SpanBuilder:
    """Folds one run's events into spans; `apply` returns the spans each event closes.

    The workflow span closes at `RunFinished`; a run that stops early
    (`RunInterrupted`) keeps it open, and the process that resumes it closes it.
    A builder that joins a run midway is first `prime`d with the earlier events,
    so it knows the open spans and the plan without exporting them again.
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.trace_id = trace_id_of(run_id)
        self.root_id = span_id_of(run_id, "workflow")
        self.started_at: datetime | None = None
        self.last_at: datetime | None = None
        self.suspended_at: datetime | None = None
        self.root_attrs: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "invoke_workflow",
            "veritask.run_id": run_id,
        }
        self.tools: dict[str, str] = {}
        self.args: dict[str, Any] = {}
        self.planning: _Open | None = None
        self.attempts: dict[str, _Open] = {}

    # -- the mapping -------------------------------------------------------------

    def prime(self, events: Iterable[Event]) -> None:
        """Learn the state of earlier events (spans already exported elsewhere)."""
        for ev in events:
            self.apply(ev)

    def apply(self, ev: Event) -> list[SpanRecord]:
        """The spans `ev` closes (usually none or one)."""
        previous = self.last_at or ev.at
        self.last_at = ev.at
        t, d = ev.type, ev.data
        if t == EventType.RUN_STARTED:
            self.started_at = ev.at
            self.root_attrs["veritask.goal"] = redact_text(str(d.get("goal", "")))
            mode = d.get("options", {}).get("mode")
            if mode:
                self.root_attrs["veritask.mode"] = str(mode)
            return []
        if t == EventType.TASK_STARTED:
            return self._task_started(ev, previous)
        if t == EventType.BUDGET_EXCEEDED:
            self.root_attrs["veritask.budget_exceeded"] = str(d.get("resource", ""))
            return []
        if t in TERMINAL_TASK_EVENTS or t == EventType.TASK_RETRYING:
            return self._task_ended(ev)
        return self._run_level(ev, previous)

    def _run_level(self, ev: Event, previous: datetime) -> list[SpanRecord]:
        t, d = ev.type, ev.data
        if t == EventType.PLAN_PROPOSED:
            return [self._chat(ev, previous)]
        if t in (EventType.PLAN_ACCEPTED, EventType.PLAN_REJECTED):
            return self._planned(ev)
        if t == EventType.ESCALATED:
            return [self._escalated(ev, previous)]
        if t == EventType.ANSWER_ASSEMBLED:
            return [self._assembled(ev, previous)]
        if t == EventType.RUN_RESUMED:
            self.suspended_at = previous  # the last event the earlier driver wrote
            attrs: dict[str, AttributeValue] = {"veritask.pending_tasks": len(d.get("pending", []))}
            return [self._record(f"seq:{ev.seq}", "resume", ev.at, ev.at, attrs)]
        if t == EventType.RUN_FINISHED:
            return self._finished(ev)
        return []

    # -- span kinds ----------------------------------------------------------------

    def _task_started(self, ev: Event, previous: datetime) -> list[SpanRecord]:
        self.planning = None  # a plan given to `exec` has no planning to show
        tid = str(ev.data["task_id"])
        closed = []
        if tid in self.attempts:
            # Started before a crash and started again by the resume (idempotent tool):
            # the cut-off attempt ends where its driver's log ends.
            stub = ev.model_copy(update={"at": self.suspended_at or previous})
            closed = self._attempt_closed(stub, "interrupted", "Interrupted", "interrupted", None)
        attempt = int(ev.data.get("attempt", 1))
        self.attempts[tid] = _Open(
            span_id_of(self.run_id, f"seq:{ev.seq}"), ev.at, {"veritask.task.attempt": attempt}
        )
        return closed

    def _task_ended(self, ev: Event) -> list[SpanRecord]:
        d = ev.data
        if ev.type == EventType.TASK_RETRYING:
            err = d.get("error") or {}
            closed = self._attempt_closed(ev, "failed", err.get("type"), err.get("message"), None)
            closed[0].attributes["veritask.task.retried"] = True
            return closed
        o = d.get("outcome") or {}
        err = o.get("error") or {}
        conf = (o.get("confidence") or {}).get("score")
        status = str(o.get("status", ev.type.value))
        return self._attempt_closed(ev, status, err.get("type"), err.get("message"), conf, o)

    def _record(
        self,
        key: str,
        name: str,
        start: datetime,
        end: datetime,
        attributes: dict[str, AttributeValue],
        *,
        parent: int | None = -1,
        error: str | None = None,
        kind: str = "internal",
        span_id: int | None = None,
    ) -> SpanRecord:
        return SpanRecord(
            name=name,
            trace_id=self.trace_id,
            span_id=span_id if span_id is not None else span_id_of(self.run_id, key),
            parent_id=self.root_id if parent == -1 else parent,
            start=min(start, end),
            end=end,
            attributes={"veritask.run_id": self.run_id, **attributes},
            error=error,
            kind=kind,
        )

    def _planning_span(self, at: datetime) -> _Open:
        if self.planning is None:
            self.planning = _Open(span_id_of(self.run_id, "plan"), self.started_at or at, {})
        return self.planning

    def _chat(self, ev: Event, previous: datetime) -> SpanRecord:
        d = ev.data
        plan = self._planning_span(ev.at)
        provider, model = _provider(str(d.get("model") or ""))
        usage = d.get("usage") or {}
        latency = float(usage.get("latency_s") or 0.0)
        start = previous
        if latency:
            start = datetime.fromtimestamp(ev.at.timestamp() - latency, tz=ev.at.tzinfo)
        attrs: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "chat",
            "veritask.plan.round": int(d.get("round", 0)),
            "veritask.plan.valid": bool(d.get("valid")),
        }
        if provider:
            attrs["gen_ai.provider.name"] = provider
        if model:
            attrs["gen_ai.request.model"] = model
        if usage:
            attrs["gen_ai.usage.input_tokens"] = int(usage.get("input_tokens", 0))
            attrs["gen_ai.usage.output_tokens"] = int(usage.get("output_tokens", 0))
        error = d.get("error_type")
        if error:
            attrs["error.type"] = str(error)
        elif d.get("problems"):
            attrs["veritask.plan.problems"] = redact_text("; ".join(map(str, d["problems"])))[:2000]
        return self._record(
            f"seq:{ev.seq}",
            f"chat {model}" if model else "chat",
            start,
            ev.at,
            attrs,
            parent=plan.span_id,
            error=redact_text("; ".join(map(str, d.get("problems", [])))) if error else None,
            kind="client",
        )

    def _planned(self, ev: Event) -> list[SpanRecord]:
        d = ev.data
        if ev.type == EventType.PLAN_ACCEPTED:
            plan = d.get("plan") or {}
            for task in plan.get("tasks", []):
                self.tools[str(task.get("id"))] = str(task.get("tool", ""))
                self.args[str(task.get("id"))] = task.get("args", {})
            if self.planning is None and "confidence" not in d:
                return []  # `exec`: the plan was given, nothing was planned
        opened = self._planning_span(ev.at)
        self.planning = None
        attrs: dict[str, AttributeValue] = {
            "veritask.plan.accepted": ev.type == EventType.PLAN_ACCEPTED
        }
        error = None
        if ev.type == EventType.PLAN_ACCEPTED:
            attrs["veritask.plan.tasks"] = len(d.get("plan", {}).get("tasks", []))
            if "confidence" in d:
                attrs["veritask.plan.confidence"] = float(d["confidence"])
            attrs["veritask.plan.source"] = str(d.get("source", "planner"))
        else:
            error = redact_text("; ".join(map(str, d.get("problems", []))))[:2000]
            attrs["error.type"] = "PlanRejected"
        return [self._record("plan", "plan", opened.start, ev.at, attrs, error=error)]

    def _escalated(self, ev: Event, previous: datetime) -> SpanRecord:
        d = ev.data
        usage = d.get("usage") or {}
        parent = self.planning.span_id if self.planning is not None else self.root_id
        attrs: dict[str, AttributeValue] = {
            "veritask.escalation.rung": str(d.get("rung", "")),
            "veritask.escalation.target": str(d.get("target", "")),
            "veritask.escalation.taken": bool(d.get("taken")),
            "veritask.confidence.before": float(d.get("before") or 0.0),
            "veritask.confidence.after": float(d.get("after") or 0.0),
            "gen_ai.usage.input_tokens": int(usage.get("input_tokens", 0)),
            "gen_ai.usage.output_tokens": int(usage.get("output_tokens", 0)),
        }
        if d.get("reason"):
            attrs["veritask.escalation.reason"] = redact_text(str(d["reason"]))
        return self._record(
            f"seq:{ev.seq}", f"escalate {d.get('rung', '')}", previous, ev.at, attrs, parent=parent
        )

    def _attempt_closed(
        self,
        ev: Event,
        status: str,
        error_type: str | None,
        message: str | None,
        confidence: float | None,
        outcome: dict[str, Any] | None = None,
    ) -> list[SpanRecord]:
        tid = str(ev.data.get("task_id") or (outcome or {}).get("task_id", ""))
        opened = self.attempts.pop(tid, None)
        tool = self.tools.get(tid) or ""
        if not tool and outcome and outcome.get("evidence"):
            tool = str(outcome["evidence"][0].get("tool", ""))
        attempt = (
            int(opened.attributes["veritask.task.attempt"])
            if opened
            else int((outcome or {}).get("attempts") or 0)
        )
        attrs: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            "gen_ai.tool.call.id": f"{self.run_id}:{tid}:{attempt}",
            "gen_ai.tool.type": "function",
            "veritask.task.id": tid,
            "veritask.task.attempt": attempt,
            "veritask.task.status": status,
        }
        if tid in self.args:
            attrs["gen_ai.tool.call.arguments"] = _json(self.args[tid])
        if confidence is not None:
            attrs["veritask.confidence"] = float(confidence)
        if error_type:
            attrs["error.type"] = str(error_type)
        failed = status in ("failed", "unknown", "interrupted")
        # A task that never started (skipped) gets a zero-length span of its own.
        return [
            self._record(
                f"seq:{ev.seq}",
                f"execute_tool {tool}".strip(),
                opened.start if opened else ev.at,
                ev.at,
                attrs,
                error=redact_text(message or status) if failed else None,
                span_id=opened.span_id if opened else None,
            )
        ]

    def _assembled(self, ev: Event, previous: datetime) -> SpanRecord:
        answer = ev.data.get("answer") or {}
        conf = (answer.get("confidence") or {}).get("score", 0.0)
        attrs: dict[str, AttributeValue] = {
            "veritask.answer.status": str(answer.get("status", "")),
            "veritask.confidence": float(conf or 0.0),
            "veritask.answer.claims": len(answer.get("claims", [])),
            "veritask.answer.gaps": len(answer.get("gaps", [])),
        }
        return self._record(f"seq:{ev.seq}", "assemble", previous, ev.at, attrs)

    def _finished(self, ev: Event) -> list[SpanRecord]:
        d = ev.data
        status = str(d.get("status", ""))
        attrs = dict(self.root_attrs)
        attrs["veritask.status"] = status
        usage = d.get("usage") or {}
        if usage:
            attrs["gen_ai.usage.input_tokens"] = int(usage.get("input_tokens", 0))
            attrs["gen_ai.usage.output_tokens"] = int(usage.get("output_tokens", 0))
        error = None if status in ("succeeded", "partial") else f"run {status}"
        root = SpanRecord(
            name="invoke_workflow",
            trace_id=self.trace_id,
            span_id=self.root_id,
            parent_id=None,
            start=self.started_at or ev.at,
            end=ev.at,
            attributes=attrs,
            error=error,
        )
        return [root]


def spans_from_events(events: Iterable[Event]) -> list[SpanRecord]:
    """Every span of a run (finished or not) from its events, in the order they closed."""
    builders: dict[str, SpanBuilder] = {}
    out: list[SpanRecord] = []
    for ev in events:
        builder = builders.setdefault(ev.run_id, SpanBuilder(ev.run_id))
        out.extend(builder.apply(ev))
    return out


__all__ = [
    "SpanBuilder",
    "SpanRecord",
    "span_id_of",
    "spans_from_events",
    "trace_id_hex",
    "trace_id_of",
]
