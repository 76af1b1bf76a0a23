"""OpenTelemetry traces of runs, built from their event logs (GenAI semantic conventions).

`spans_from_events(events)` maps a run's events to spans without any tracing
library; `listener_from_env()` returns an event listener exporting them live
when `OTEL_TRACES_EXPORTER` asks for it (the `otel` extra provides the SDK).
"""

from veritask.tracing.otel import TraceListener, enabled, export, listener_from_env, to_readable
from veritask.tracing.spans import (
    SpanBuilder,
    SpanRecord,
    spans_from_events,
    trace_id_hex,
    trace_id_of,
)

__all__ = [
    "SpanBuilder",
    "SpanRecord",
    "TraceListener",
    "enabled",
    "export",
    "listener_from_env",
    "spans_from_events",
    "to_readable",
    "trace_id_hex",
    "trace_id_of",
]
