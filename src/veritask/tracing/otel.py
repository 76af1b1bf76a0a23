"""Hand `SpanRecord`s to the OpenTelemetry SDK, configured by the standard `OTEL_*` variables.

Spans are built as SDK `ReadableSpan`s with the ids and times the event log
dictates (see `spans.py`), then given to a span processor, so any exporter
works: `OTEL_TRACES_EXPORTER=console` prints them, `otlp` sends them to a
collector (`OTEL_EXPORTER_OTLP_ENDPOINT`, …, read by the exporter itself).
With the variable unset or `none`, or `OTEL_SDK_DISABLED=true`, nothing is
imported and nothing happens.
"""

from __future__ import annotations

import atexit
import os
import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from veritask.tracing.spans import SpanBuilder, SpanRecord
from veritask.types import Event

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
    from opentelemetry.sdk.trace.export import SpanExporter

History = Callable[[str], list[Event]]
"""The stored events of a run (`RunStore.events`), for a listener joining it midway."""

SCOPE = "veritask"


def _to_ns(record_time: Any) -> int:
    return int(record_time.timestamp() * 1_000_000_000)


def to_readable(record: SpanRecord, resource: Any = None) -> ReadableSpan:
    """One record as an SDK span, with its ids, parent, times, attributes and status."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
    from opentelemetry.trace.status import Status, StatusCode

    def context(span_id: int) -> SpanContext:
        return SpanContext(
            trace_id=record.trace_id,
            span_id=span_id,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )

    status = (
        Status(StatusCode.ERROR, record.error)
        if record.error is not None
        else Status(StatusCode.OK)
    )
    return ReadableSpan(
        name=record.name,
        context=context(record.span_id),
        parent=context(record.parent_id) if record.parent_id is not None else None,
        resource=resource if resource is not None else Resource.create(),
        attributes=dict(record.attributes),
        kind=SpanKind.CLIENT if record.kind == "client" else SpanKind.INTERNAL,
        instrumentation_scope=InstrumentationScope(SCOPE),
        status=status,
        start_time=_to_ns(record.start),
        end_time=_to_ns(record.end),
    )


class TraceListener:
    """An event listener (`Runtime(listeners=[…])`) that exports each run's spans as its
    events become durable. `history` lets it join a resumed run: it folds the earlier
    events first, so the resumed spans hang under the same workflow span."""

    def __init__(self, processor: SpanProcessor, history: History | None = None) -> None:
        self.processor = processor
        self.history = history
        self._builders: dict[str, SpanBuilder] = {}
        self._resource: Any = None

    def __call__(self, event: Event) -> None:
        builder = self._builders.get(event.run_id)
        if builder is None:
            builder = SpanBuilder(event.run_id)
            if event.seq > 1 and self.history is not None:
                builder.prime(e for e in self.history(event.run_id) if e.seq < event.seq)
            self._builders[event.run_id] = builder
        if self._resource is None:
            from opentelemetry.sdk.resources import Resource

            self._resource = Resource.create({"service.name": _service_name()})
        for record in builder.apply(event):
            self.processor.on_end(to_readable(record, self._resource))
        if event.type.value in ("RunFinished", "RunInterrupted"):
            self._builders.pop(event.run_id, None)  # a later resume primes a fresh one

    def __repr__(self) -> str:
        return f"TraceListener({type(self.processor).__name__})"


def _service_name() -> str:
    return os.environ.get("OTEL_SERVICE_NAME") or "veritask"


def enabled() -> bool:
    """Whether the environment asks for traces (`OTEL_TRACES_EXPORTER` set, not `none`)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    names = [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    return any(n and n != "none" for n in names)


def exporter_from_env() -> list[SpanExporter]:
    """The exporters `OTEL_TRACES_EXPORTER` names (console, otlp); unknown names warn."""
    out: list[SpanExporter] = []
    for name in (n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")):
        if name in ("", "none"):
            continue
        if name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            # stderr: stdout belongs to the command's own output (`--json`).
            out.append(ConsoleSpanExporter(out=sys.stderr))
        elif name == "otlp":
            out.append(_otlp())
        else:
            warnings.warn(
                f"OTEL_TRACES_EXPORTER={name!r} is not supported by veritask; use console or otlp",
                RuntimeWarning,
                stacklevel=2,
            )
    return out


def _otlp() -> SpanExporter:
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
            OTLPSpanExporter as Grpc,
        )

        return Grpc()  # type: ignore[no-any-return]
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def listener_from_env(history: History | None = None) -> TraceListener | None:
    """A TraceListener exporting where `OTEL_*` says, or None when tracing is off.

    Missing packages (the `otel` extra) turn tracing off with a warning instead of
    failing the run: observability must never break the thing it observes.
    """
    if not enabled():
        return None
    key = tuple(os.environ.get(n, "") for n in _CONFIG_VARS)
    if key not in _PROCESSORS:
        processor = _processor_from_env()
        if processor is None:
            return None
        if os.environ.get("OTEL_TRACES_EXPORTER", "").strip() == "console":
            # No thread to share, and a fresh one writes to the current sys.stderr.
            return TraceListener(processor, history)
        _PROCESSORS[key] = processor
    return TraceListener(_PROCESSORS[key], history)


_CONFIG_VARS = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)
_PROCESSORS: dict[tuple[str, ...], SpanProcessor] = {}
"""One processor (and exporter thread) per process and configuration: the API server
builds an Orchestrator per run, and each must not start its own batch thread."""


def _processor_from_env() -> SpanProcessor | None:
    try:
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        exporters = exporter_from_env()
    except ImportError as exc:
        warnings.warn(
            f"OTEL_TRACES_EXPORTER is set but {exc.name} is not installed; "
            "pip install 'veritask[otel]' to export traces",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    if not exporters:
        return None
    processors: list[SpanProcessor] = []
    for exporter in exporters:
        # Console output is for people watching: synchronous, in order. Network export batches.
        if type(exporter).__name__ == "ConsoleSpanExporter":
            processors.append(SimpleSpanProcessor(exporter))
        else:
            batch = BatchSpanProcessor(exporter)
            atexit.register(batch.shutdown)
            processors.append(batch)
    return processors[0] if len(processors) == 1 else _fan_out(processors)


def _fan_out(processors: list[SpanProcessor]) -> SpanProcessor:
    from opentelemetry.sdk.trace import SynchronousMultiSpanProcessor

    multi = SynchronousMultiSpanProcessor()  # type: ignore[no-untyped-call]
    for p in processors:
        multi.add_span_processor(p)
    return multi


def export(records: list[SpanRecord], exporter: SpanExporter) -> None:
    """Export a finished run's spans (from `spans_from_events`) in one batch."""
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create({"service.name": _service_name()})
    exporter.export([to_readable(r, resource) for r in records])


__all__ = ["TraceListener", "enabled", "export", "listener_from_env", "to_readable"]
