"""Celery backend: tool calls run on `veritask worker` processes, on any host.

Who does what
-------------
* The **driver** (`veritask exec/resume --backend celery`, or
  `Runtime(backend="celery")`) holds the run's lease, folds the log,
  schedules, and is the only writer of the run's events — exactly as with the
  inline backend. For each attempt it sends one Celery message and waits for
  its result.
* A **worker** (`veritask worker --import mod`) is stateless: it imports the
  tool modules, runs one attempt per message, and returns the outcome through
  the Celery result backend (Redis). It never touches the run store.

Why results go back through the result backend rather than into the store:
the lease says one driver per run and the store refuses events from anyone
else, so a worker writing `TaskSucceeded` itself would need the driver's
token (and a worker finishing after the driver lost its lease would be
refused anyway). Returning the outcome keeps one writer, keeps workers free
of database credentials, and leaves the log's rules exactly as they are.

Delivery guarantees, on purpose
-------------------------------
* A message carries `(run_id, task_id, attempt)` as its **idempotency key**;
  it is also the Celery task id. The worker keeps a small ledger in Redis
  (`veritask:attempt:<key>`: `running`, then `done:<outcome>`). A delivery
  whose key is already `done` is a duplicate: it is dropped and the stored
  outcome is returned, the tool is not called again. (A resumed driver
  numbers its attempts from 1 again, so an attempt a worker finished after
  the old driver died is picked up from the ledger rather than re-run.)
* **Idempotent tools** go to a task declared `acks_late=True,
  task_reject_on_worker_lost=True`: the message is acknowledged only after
  the attempt, so if the worker process dies mid-call (SIGKILL, OOM) the
  message is redelivered and the attempt runs again — safe, by declaration.
* **Other tools** are at-most-once: acknowledged when received
  (`acks_late=False`). If the worker dies mid-call the message is gone and
  Celery reports `WorkerLostError`; the driver records the task as
  `unknown` (the effect may or may not have happened), never re-runs it,
  and the user settles it. A duplicate of a started non-idempotent attempt
  is refused by the ledger (`SET NX`) and also reported as `unknown`.
* The ledger lives `LEDGER_TTL_S` (7 days) per key: run ids must be unique per
  broker in that time. `exec` refuses an id its store already has, so this
  matters only when reusing ids against a fresh store — flush the ledger
  (`veritask:attempt:*`) or pick new ids.
* `worker_prefetch_multiplier=1`: a worker reserves one message per process
  at a time, so a long call does not hold other messages hostage and a dead
  worker takes at most one unfinished message per process with it.
* Redis `visibility_timeout` is derived from the tools' timeouts (the
  longest `@tool(timeout_s=…)` the worker serves, plus a margin; see
  `visibility_timeout` — give long calls a tool timeout, not only a
  per-task one): an unacknowledged
  (late-ack) message is redelivered only after it, so it must exceed the
  longest call, or a slow idempotent call would be started twice.
* Every message carries a hard `time_limit` of the task timeout plus a grace
  period, and the driver revokes (SIGKILL) an attempt it stopped waiting for.
* **Redis unreachable** (restarted, a network cut): Redis holds the queue, the
  results and the ledger, and a restart without persistence forgets all
  three. If the message cannot be sent, the attempt fails (retryable when the
  tool is idempotent). Once it was sent, the driver keeps waiting through the
  outage for an idempotent tool — its result arrives if the worker finishes
  after Redis is back; a lost message ends in the task's timeout and a retry —
  but a tool that is not idempotent becomes `unknown` at the first lost
  contact: its result may have been lost with Redis, and waiting into a
  timeout would retry it, running it twice. (Workers: see README "Scaling
  out" — with celery/kombu 5.7 a worker may exit after a broker restart.)

The broker (and result backend) URL comes from `Settings.broker_url`
(`VERITASK_BROKER_URL`, default `redis://127.0.0.1:6379/0`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Iterable
from typing import Any

from pydantic_core import to_jsonable_python

from veritask.errors import ConfigError, TaskTimeout, ToolError
from veritask.runtime.backends.base import OUTCOME_UNKNOWN, current_run_id
from veritask.tools.registry import ToolRegistry, ToolResult, ToolSpec
from veritask.types import DEFAULT_POLICY, Confidence, Source

try:  # the `distributed` extra
    import redis
    from celery import Celery
    from celery.result import AsyncResult
    from kombu.exceptions import OperationalError

    _BROKER_ERRORS: tuple[type[BaseException], ...] = (
        ConnectionError,
        redis.ConnectionError,
        redis.TimeoutError,
        OperationalError,
    )
except ImportError:  # pragma: no cover - exercised only without the extra
    Celery = None  # type: ignore[assignment,misc]
    _BROKER_ERRORS = (ConnectionError,)

QUEUE = "veritask"
TASK_ONCE = "veritask.attempt_once"
TASK_IDEMPOTENT = "veritask.attempt_idempotent"
LEDGER_PREFIX = "veritask:attempt:"
LEDGER_TTL_S = 7 * 24 * 3600
"""How long a finished attempt is remembered (duplicates arrive within minutes)."""
TIME_LIMIT_GRACE_S = 5.0
"""Hard time limit of a message beyond the task's timeout: the driver gives up first."""
VISIBILITY_MARGIN_S = 60.0
_READY = frozenset({"SUCCESS", "FAILURE", "REVOKED"})


def attempt_key(run_id: str, task_id: str, attempt: int) -> str:
    """The idempotency key of one attempt; also its Celery task id."""
    return f"{run_id}:{task_id}:{attempt}"


def visibility_timeout(timeouts: Iterable[float | None]) -> float:
    """Redis visibility timeout for tasks with these timeouts (None: the default policy's).

    A late-acknowledged message is redelivered when it stays unacknowledged
    this long, so it must outlast the longest call plus its hard time limit.
    """
    default = DEFAULT_POLICY.timeout_s or 60.0
    longest = max((t or default for t in timeouts), default=default)
    return longest + TIME_LIMIT_GRACE_S + VISIBILITY_MARGIN_S


def _require_celery() -> None:
    if Celery is None:
        raise ConfigError(
            "the celery backend needs celery and redis: pip install 'veritask[distributed]'"
        )


def make_app(
    broker_url: str,
    *,
    visibility_timeout_s: float | None = None,
    registry: ToolRegistry | None = None,
) -> Any:
    """The Celery app shared by drivers and workers, with its two attempt tasks.

    `registry` is where a worker looks tools up (default: the `@tool` registry
    after `--import`). The settings are explained in this module's docstring.
    """
    _require_celery()
    vt = visibility_timeout_s or visibility_timeout([])
    app = Celery("veritask", broker=broker_url, backend=broker_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE,
        worker_prefetch_multiplier=1,
        task_acks_late=False,
        broker_transport_options={"visibility_timeout": vt},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        result_expires=LEDGER_TTL_S,
        task_ignore_result=False,
    )
    ledger = _Ledger(broker_url)

    def lookup() -> ToolRegistry:
        if registry is not None:
            return registry
        from veritask.tools import default_registry

        return default_registry()

    @app.task(name=TASK_ONCE, acks_late=False)  # type: ignore[untyped-decorator]
    def attempt_once(key: str, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        return run_attempt(ledger, lookup(), key, tool, args, idempotent=False)

    @app.task(  # type: ignore[untyped-decorator]
        name=TASK_IDEMPOTENT, acks_late=True, reject_on_worker_lost=True
    )
    def attempt_idempotent(key: str, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        return run_attempt(ledger, lookup(), key, tool, args, idempotent=True)

    return app


class _Ledger:
    """The workers' record of attempts by key, in Redis (one client per process)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Any = None
        self._pid = 0
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:  # prefork children must not share the parent's sockets
            if self._client is None or self._pid != os.getpid():
                self._client = redis.Redis.from_url(self.url)
                self._pid = os.getpid()
            return self._client

    def finished(self, key: str) -> dict[str, Any] | None:
        raw = self.client().get(LEDGER_PREFIX + key)
        if raw is not None and raw.startswith(b"done:"):
            return dict(json.loads(raw[5:]))
        return None

    def start(self, key: str, *, exclusive: bool) -> bool:
        """Mark `key` running; with `exclusive`, only if nobody marked it before."""
        return bool(
            self.client().set(LEDGER_PREFIX + key, b"running", nx=exclusive, ex=LEDGER_TTL_S)
        )

    def finish(self, key: str, message: dict[str, Any]) -> None:
        self.client().set(
            LEDGER_PREFIX + key, b"done:" + json.dumps(message).encode(), ex=LEDGER_TTL_S
        )


def run_attempt(
    ledger: _Ledger,
    registry: ToolRegistry,
    key: str,
    tool: str,
    args: dict[str, Any],
    *,
    idempotent: bool,
) -> dict[str, Any]:
    """One attempt on a worker: dedupe by key, call the tool, record and return the outcome.

    The outcome is a JSON message (never an exception), so Celery itself
    never retries: retries are the driver's decision, by the task's policy.
    """
    done = ledger.finished(key)
    if done is not None:
        return done  # a duplicate delivery of a finished attempt: dropped
    if not ledger.start(key, exclusive=not idempotent):
        return {
            "unknown": f"attempt {key} was already started by another delivery; a tool that "
            "is not idempotent is never run twice"
        }
    message = _call(registry, tool, args)
    ledger.finish(key, message)
    return message


def _call(registry: ToolRegistry, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    if tool not in registry:
        return {
            "error": [
                "UnknownTool",
                f"tool {tool!r} is not registered in this worker; start it with "
                "`veritask worker --import MODULE`",
            ]
        }
    spec = registry.get(tool)
    try:
        raw = spec.fn(**spec.coerce_args(args))
        if asyncio.iscoroutine(raw):
            raw = asyncio.run(raw)
    except ToolError as exc:
        return {"tool_error": [str(exc), exc.retryable, exc.kind]}
    except Exception as exc:
        return {"error": [type(exc).__name__, str(exc) or repr(exc)]}
    try:
        if isinstance(raw, ToolResult):
            return {
                "tool_result": {
                    "value": to_jsonable_python(raw.value),
                    "evidence": [s.model_dump(mode="json") for s in raw.evidence],
                    "confidence": None
                    if raw.confidence is None
                    else raw.confidence.model_dump(mode="json"),
                    "no_answer": raw.no_answer,
                }
            }
        return {"ok": to_jsonable_python(raw)}
    except Exception as exc:
        return {"error": ["UnserialisableResult", f"tool result cannot be sent back: {exc}"]}


def unpack(message: dict[str, Any]) -> Any:
    """A worker's outcome message as the Backend contract wants it: a value or a raise."""
    if "ok" in message:
        return message["ok"]
    if "tool_result" in message:
        r = message["tool_result"]
        conf = r.get("confidence")
        return ToolResult(
            value=r["value"],
            evidence=[Source.model_validate(s) for s in r.get("evidence", [])],
            confidence=None if conf is None else Confidence.model_validate(conf),
            no_answer=str(r.get("no_answer") or ""),
        )
    if "tool_error" in message:
        text, retryable, kind = message["tool_error"]
        raise ToolError(text, retryable=retryable, kind=kind)
    if "unknown" in message:
        raise ToolError(message["unknown"], kind=OUTCOME_UNKNOWN)
    exc_type, text = message.get("error", ["WorkerError", f"malformed reply {message!r}"])
    raise ToolError(f"{exc_type}: {text}", kind=exc_type)


class CeleryBackend:
    """Driver side: send each attempt to the workers and wait for its outcome.

    Waiting polls the result backend (a Redis GET, backing off from 5 to 50 ms)
    on the event loop: no thread per call, and the only latency added is one
    poll interval.
    """

    def __init__(self, broker_url: str | None = None, *, app: Any = None) -> None:
        _require_celery()
        if app is None:
            from veritask.config import load_settings

            app = make_app(broker_url or load_settings().broker_url)
        self.app = app
        self._attempts: dict[tuple[str, str], int] = {}

    async def call(
        self, spec: ToolSpec, args: dict[str, Any], *, task_id: str, timeout_s: float | None
    ) -> Any:
        run_id = current_run_id.get() or "-"
        number = self._attempts.get((run_id, task_id), 0) + 1
        self._attempts[(run_id, task_id)] = number
        key = attempt_key(run_id, task_id, number)
        result = AsyncResult(key, app=self.app)
        try:
            result.forget()  # a previous driver's reply under this key is not ours to read
            self.app.send_task(
                TASK_IDEMPOTENT if spec.idempotent else TASK_ONCE,
                args=[key, spec.name, to_jsonable_python(args)],
                task_id=key,
                queue=QUEUE,
                time_limit=None if timeout_s is None else timeout_s + TIME_LIMIT_GRACE_S,
            )
        except _BROKER_ERRORS as exc:
            raise ToolError(
                f"could not send attempt {key} to the broker: {exc}",
                retryable=spec.idempotent,
                kind="BrokerUnavailable",
            ) from None
        try:
            await asyncio.wait_for(self._ready(result, spec), timeout_s)
        except TimeoutError:
            self._revoke(result)
            raise TaskTimeout(task_id, timeout_s or 0.0) from None
        except asyncio.CancelledError:
            self._revoke(result)
            raise
        if result.state == "SUCCESS":
            return unpack(result.result)
        return self._failure(spec, result)

    @staticmethod
    async def _ready(result: Any, spec: ToolSpec) -> None:
        """Poll until the attempt's result is in; through a Redis outage only when the
        tool is idempotent (see "Redis unreachable" in this module's docstring)."""
        delay = 0.005
        while True:
            try:
                if result.state in _READY:
                    return
            except _BROKER_ERRORS as exc:
                if not spec.idempotent:
                    raise ToolError(
                        f"lost contact with the broker while attempt {result.id} was sent or "
                        f"running ({exc}); its result may have been lost with it and the tool "
                        "is not idempotent, so it was not run again — check whether its effect "
                        "happened, then `veritask settle`",
                        kind=OUTCOME_UNKNOWN,
                    ) from None
                await asyncio.sleep(0.25)  # idempotent: wait, bounded by the task's timeout
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    @staticmethod
    def _revoke(result: Any) -> None:
        """Best effort: SIGKILL the attempt on its worker (not possible while Redis is down)."""
        with contextlib.suppress(*_BROKER_ERRORS):
            result.revoke(terminate=True, signal="SIGKILL")

    @staticmethod
    def _failure(spec: ToolSpec, result: Any) -> Any:
        exc = result.result
        name = type(exc).__name__
        if name == "WorkerLostError" and not spec.idempotent:
            raise ToolError(
                f"the worker running it died ({exc}); the tool is not idempotent, so it was "
                "not run again — check whether its effect happened, then `veritask settle`",
                kind=OUTCOME_UNKNOWN,
            )
        retryable = name in ("WorkerLostError", "TimeLimitExceeded")
        raise ToolError(f"{name}: {exc}", retryable=retryable, kind=name)

    async def aclose(self) -> None:
        return None
