"""How runs look on a terminal: the live progress view and `show`/`runs` output.

Kept apart from `cli.py` so the commands stay a thin shell and the views can
be reused by other front ends. Progress goes to stderr so stdout stays
clean for `--json`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from veritask.cli_text import one_line, summarise
from veritask.redact import redact, redact_text
from veritask.runtime.result import RunResult, tool_of
from veritask.runtime.state import RunState
from veritask.tracing.spans import trace_id_hex
from veritask.types import Event, EventType, Outcome, Plan, RunSummary, Task

DEFAULT_WIDTH = 100
"""The width used when a caller names none (a console's own width is better)."""
MAX_ROWS = 100
"""Rows a task or evidence table shows; `show --json` has every one (a 10,000-task
run would otherwise print 30,000 lines)."""


_STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "skipped": "yellow",
    "unknown": "magenta",
    "running": "cyan",
    "retrying": "yellow",
    "pending": "dim",
    "partial": "yellow",
    "interrupted": "magenta",
}


def styled(status: str) -> Text:
    return Text(status, style=_STATUS_STYLE.get(status, ""))


class ProgressView:
    """Listens to a run's events and shows each task's state as it changes.

    On a terminal it redraws a table in place (rich Live); elsewhere it
    prints one plain line per event that matters, so logs stay readable.
    """

    def __init__(self, console: Console, plan: Plan | None = None, show_plan: bool = False) -> None:
        self.console = console
        self.show_plan = show_plan
        self.plan_text = ""
        self.live_mode = console.is_terminal
        self.rows: dict[str, dict[str, Any]] = {}
        self.started: dict[str, float] = {}
        self.planning = PlanningStatus()
        self._live: Live | None = None
        if plan is not None:
            self.set_plan(plan)

    def set_plan(self, plan: Plan) -> None:
        for t in plan.tasks:
            self.rows.setdefault(t.id, {"tool": t.tool, "status": "pending", "attempts": 0})

    def __enter__(self) -> ProgressView:
        if self.live_mode:
            # get_renderable: redrawn on every refresh, so elapsed times tick while waiting.
            self._live = Live(
                console=self.console,
                refresh_per_second=8,
                transient=False,
                get_renderable=self._renderable,
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._renderable())
            self._live.__exit__(None, None, None)
            self._live = None

    def __call__(self, event: Event) -> None:
        line = self._apply(event)
        if self._live is not None:
            self._live.update(self._renderable())
        elif line:
            # Not markup: an error such as "[models.x] base_url" is text to show whole.
            self.console.print(line, highlight=False, markup=False)

    def _apply(self, ev: Event) -> str | None:
        self.planning.apply(ev)
        if ev.type.value.startswith("Task") and ev.data.get("task_id"):
            return self._task_event(ev)
        if ev.type.value.startswith("Plan"):
            return self._plan_event(ev)
        d = ev.data
        messages = {
            EventType.RUN_STARTED: f"run {ev.run_id} started",
            EventType.BUDGET_EXCEEDED: (
                f"budget exceeded: {d.get('resource')} ({d.get('used')} of {d.get('limit')})"
            ),
            EventType.RUN_INTERRUPTED: "run interrupted",
            EventType.RUN_FINISHED: f"run finished: {d.get('status')}",
        }
        return messages.get(ev.type)

    def _plan_event(self, ev: Event) -> str | None:
        d = ev.data
        if ev.type == EventType.PLAN_PROPOSED:
            verdict = "valid" if d.get("valid") else "; ".join(d.get("problems", []))[:200]
            return f"plan sample: {verdict}"
        if ev.type == EventType.PLAN_REJECTED:
            return "no valid plan: " + "; ".join(d.get("problems", []))
        if ev.type != EventType.PLAN_ACCEPTED:
            return None
        plan = Plan.model_validate(d["plan"])
        self.set_plan(plan)
        conf = d.get("confidence")
        origin = ", from memory" if d.get("source") == "memory" else ""
        head = f"plan ({len(plan.tasks)} task(s){origin}" + (
            f", confidence {conf:.2f})" if conf is not None else ")"
        )
        if self.show_plan:
            self.plan_text = head + ":\n" + plan_lines(plan)
            return self.plan_text
        return head

    def _task_event(self, ev: Event) -> str | None:
        d = ev.data
        tid = str(d["task_id"])
        row = self.rows.setdefault(tid, {"tool": "?", "status": "pending", "attempts": 0})
        if ev.type == EventType.TASK_STARTED:
            row.update(status="running", attempts=d.get("attempt", 1))
            self.started.setdefault(tid, time.monotonic())
            return f"{tid}: started (attempt {d.get('attempt', 1)})"
        if ev.type == EventType.TASK_RETRYING:
            row["status"] = "retrying"
            why = redact_text(d.get("error", {}).get("message", ""))
            return (
                f"{tid}: attempt {d.get('attempt')} failed ({why}); "
                f"retrying in {d.get('delay_s', 0):.2f}s"
            )
        if "outcome" not in d:
            return None
        o = d["outcome"]
        row.update(status=o["status"], attempts=o.get("attempts", 0))
        row["confidence"] = o["confidence"]["score"]
        row["elapsed"] = o.get("usage", {}).get("latency_s", 0.0)
        if row["tool"] == "?" and o.get("evidence"):
            row["tool"] = o["evidence"][0].get("tool", "?")
        msg = f"{tid}: {o['status']}"
        if o.get("error"):
            msg += f" — {redact_text(o['error']['message'])}"
        return msg

    def _renderable(self) -> Any:
        if self.planning.active:
            return Text(self.planning.line(), style="cyan")
        if self.plan_text:
            return Group(Text(self.plan_text), self._table())
        return self._table()

    def _table(self) -> Table:
        table = Table(title="tasks", expand=False)
        for col in ("task", "tool", "status", "attempts", "confidence", "elapsed"):
            table.add_column(col, no_wrap=True)  # an id or a tool name is never split
        now = time.monotonic()
        for tid, row in self.rows.items():
            if "elapsed" in row:
                elapsed = f"{row['elapsed']:.2f}s"
            elif tid in self.started:
                elapsed = f"{now - self.started[tid]:.1f}s"
            else:
                elapsed = ""
            conf = row.get("confidence")
            table.add_row(
                Text(tid),
                Text(row["tool"]),
                styled(row["status"]),
                str(row["attempts"] or ""),
                "" if conf is None else f"{conf:.2f}",
                elapsed,
            )
        return table


_PLANNING_ENDS = frozenset(
    {EventType.PLAN_ACCEPTED, EventType.PLAN_REJECTED, EventType.RUN_FINISHED}
)


class PlanningStatus:
    """What the planner is doing, from the events: samples drawn, repairs, elapsed time."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.samples = 0
        self.valid = 0
        self.round = 0

    @property
    def active(self) -> bool:
        return self.since is not None

    def start(self) -> None:
        self.since = time.monotonic()

    def apply(self, ev: Event) -> None:
        if ev.type == EventType.RUN_STARTED and ev.data.get("options", {}).get("mode") == (
            "orchestrated"
        ):
            self.start()
        elif ev.type == EventType.PLAN_PROPOSED:
            self.samples += 1
            self.valid += bool(ev.data.get("valid"))
            self.round = max(self.round, int(ev.data.get("round", 0)))
        elif ev.type in _PLANNING_ENDS or ev.type.value.startswith("Task"):
            self.since = None

    def note(self, valid: bool, round_no: int) -> None:
        """For callers that see samples without events (`veritask plan`)."""
        self.samples += 1
        self.valid += valid
        self.round = max(self.round, round_no)

    def line(self) -> str:
        elapsed = time.monotonic() - (self.since or time.monotonic())
        text = f"planning… {self.samples} sample(s) drawn, {self.valid} valid"
        if self.round:
            text += f", repair round {self.round}"
        return f"{text} — {elapsed:.1f}s"


def evidence_table(outcomes: dict[str, Outcome], width: int = DEFAULT_WIDTH) -> Table:
    """Every source record behind the outcomes that succeeded, one line each.

    A failed lookup is not evidence (its error is in the task table and the
    gaps); the fields are summarised to what the width leaves them.
    """
    rows = [
        [tid, src.source or src.tool, src.record_id or "", src.fields or src.query]
        for tid, o in outcomes.items()
        if o.ok
        for src in o.evidence
    ]
    title = "evidence"
    if len(rows) > MAX_ROWS:
        title = f"evidence (first {MAX_ROWS} of {len(rows):,} records; --json lists all)"
        rows = rows[:MAX_ROWS]
    return fitted_table(title, ["task", "source", "record", "fields"], rows, width)


def plan_lines(plan: Plan) -> str:
    """A plan as numbered tool calls, one per line."""
    lines = []
    for task in plan.tasks:
        args = ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in redact(task.args).items()
        )
        lines.append(f"  {task.id}: {task.tool}({args})")
    if plan.answer_template:
        lines.append(f"  answer: {plan.answer_template}")
    return "\n".join(lines)


def answer_panel(result: RunResult, width: int = DEFAULT_WIDTH) -> Group:
    """The answer of a question run: text, status, claims with their evidence, gaps.

    A claim lists the evidence of its tasks that succeeded, one line each,
    summarised to `width`; a failed lookup is a gap, never evidence.
    """
    answer = result.answer
    if answer is None:
        return result_panel(result, width)
    parts: list[Any] = [
        Text.assemble(("answer: ", "bold"), redact_text(answer.text)),
        Text.assemble(
            ("status: ", "bold"),
            styled(answer.status.value),
            f"  confidence {answer.confidence.score:.2f}",
        ),
    ]
    for claim in answer.claims:
        parts.append(Text(f"claim: {claim.text}", style="bold"))
        for tid in claim.task_ids:
            o = result.outcomes.get(tid)
            if o is None or not o.ok:
                continue
            for src in o.evidence:
                where = " ".join(x for x in (src.source or src.tool, src.record_id or "") if x)
                head = f"  ← {tid}: {where} "
                fields = summarise(src.fields or src.query, width - len(head))
                parts.append(Text(head + fields, style="dim"))
    evidence = evidence_table(result.outcomes, width)
    if evidence.row_count and not answer.claims:
        parts.append(evidence)
    for gap in answer.gaps:
        parts.append(Text.assemble(("gap: ", "yellow"), redact_text(gap)))
    u = result.usage
    parts.append(
        Text(
            f"run {result.run_id} · {u.input_tokens} in / {u.output_tokens} out tokens · "
            f"${u.cost_usd:.4f} · {u.latency_s:.2f}s",
            style="dim",
        )
    )
    return Group(*parts)


def result_panel(result: RunResult, width: int = DEFAULT_WIDTH) -> Group:
    """The end of a run: status, value (a few lines at most), gaps, usage."""
    parts: list[Any] = [
        Text.assemble("run ", (result.run_id, "bold"), ": ", styled(result.status.value)),
    ]
    if result.value is not None:
        parts.append(Text.assemble(("value: ", "bold"), summarise(result.value, 4 * width)))
    for gap in result.gaps:
        parts.append(Text.assemble(("gap: ", "yellow"), redact_text(gap)))
    u = result.usage
    parts.append(
        Text(
            f"usage: {u.input_tokens} in / {u.output_tokens} out tokens, "
            f"${u.cost_usd:.4f}, {u.latency_s:.2f}s",
            style="dim",
        )
    )
    return Group(*parts)


def _outcome_row(
    tid: str, tool: str, args: Any, status: str, o: Outcome | None
) -> tuple[list[Any], Any, Any]:
    """The fixed cells of a task's row, then its call and its result (summarised later).

    Status, tries and confidence share one cell on two lines, which leaves the
    call and its result the room they need at 80 columns.
    """
    result: Any = None
    if o is not None:
        result = Text("✗ " + one_line(redact_text(o.error.message), 10_000)) if o.error else o.value
    state = styled(status)
    if o is not None:
        state.append(f"\n{o.attempts}, {o.confidence.score:.2f}", style="dim")
    return [tid, tool, state], args, result


def _task_rows(state: RunState) -> list[tuple[list[Any], Any, Any]]:
    if state.plan is None:
        # Baseline modes call tools without a plan: list the calls they made.
        rows = []
        for tid, done in state.outcomes.items():
            args = done.evidence[0].query if done.evidence else {}
            rows.append(_outcome_row(tid, tool_of(done), args, done.status.value, done))
        return rows
    rows = []
    for task in _shown_tasks(state):
        o = state.outcomes.get(task.id)
        status = o.status.value if o else ("running" if task.id in state.started else "pending")
        rows.append(_outcome_row(task.id, task.tool, task.args, status, o))
    return rows


def _shown_tasks(state: RunState) -> list[Task]:
    """The tasks a terminal has room for: all of a plan up to MAX_ROWS; of a larger
    one the first tasks, then every task that did not succeed, up to MAX_ROWS."""
    tasks = state.plan.tasks if state.plan else []
    if len(tasks) <= MAX_ROWS:
        return list(tasks)
    head = MAX_ROWS // 2
    shown = list(tasks[:head])
    for task in tasks[head:]:
        o = state.outcomes.get(task.id)
        if o is None or not o.ok:
            shown.append(task)
            if len(shown) == MAX_ROWS:
                break
    return shown


def task_table(state: RunState, width: int = DEFAULT_WIDTH) -> Table:
    """One row per task: id, tool, status (with tries and confidence below), then its
    call and its result (or error) on two lines, each summarised to the width left."""
    rows = _task_rows(state)
    heads = ["task", "tool", "status\ntries, conf"]
    room = _room(width, heads, [fixed for fixed, _, _ in rows])
    cells = []
    for fixed, args, result in rows:
        call = summarise(args, room)
        if result is None:
            detail = Text(call)
        elif isinstance(result, Text):
            detail = Text(call + "\n") + Text(one_line(result.plain, room), style="red")
        else:
            detail = Text(call + "\n" + "→ " + summarise(result, room - 2))
        cells.append([*fixed, detail])
    title = f"run {state.run_id}"
    total = len(state.plan.tasks) if state.plan else len(cells)
    if total > len(cells):
        title += f" ({len(cells)} of {total:,} tasks: the first, then any not succeeded)"
    return fitted_table(title, [*heads, "call → result"], cells, width)


def state_view(state: RunState, width: int = DEFAULT_WIDTH) -> Group:
    """`veritask show`: the plan with each task's outcome and evidence, fitted to `width`."""
    result = RunResult.from_state(state)
    header = Text.assemble(
        ("goal: ", "bold"),
        redact_text(state.goal) or "(none)",
        "\n",
        ("status: ", "bold"),
        styled(state.status.value),
        "\n",
        ("trace: ", "bold"),
        trace_id_hex(state.run_id),
    )
    parts: list[Any] = [header, task_table(state, width)]
    for rejected in state.rejected_plans:
        problems = rejected.get("problems", rejected)
        parts.append(Text(f"plan rejected: {summarise(problems, 10_000)}", style="red"))
    for step in state.escalations:
        u = step.get("usage", {})
        verb = "escalated" if step.get("taken") else "skipped escalation"
        parts.append(
            Text(
                f"{verb} {step.get('target')} via {step.get('rung')}: confidence "
                f"{step.get('before', 0):.2f} → {step.get('after', 0):.2f}, "
                f"{u.get('model_calls', 0)} model call(s), "
                f"{u.get('input_tokens', 0) + u.get('output_tokens', 0)} tokens, "
                f"${u.get('cost_usd', 0):.4f}"
                + (f" ({step['reason']})" if step.get("reason") else ""),
                style="cyan",
            )
        )
    if result.answer is not None:
        parts.append(answer_panel(result, width))
    else:
        evidence = evidence_table(state.outcomes, width)
        if evidence.row_count:
            parts.append(evidence)
        parts.append(result_panel(result))
    return Group(*parts)


def events_table(events: list[Event], width: int = DEFAULT_WIDTH) -> Table:
    """`show --events`: one line per event, its data summarised to the width left."""
    rows = [
        [str(ev.seq), ev.at.strftime("%H:%M:%S.%f")[:-3], ev.type.value, ev.data] for ev in events
    ]
    return fitted_table("events", ["seq", "at", "type", "data"], rows, width)


def runs_table(runs: list[RunSummary], width: int = DEFAULT_WIDTH) -> Table:
    """`veritask runs`: ids and statuses never wrap (they are copied into commands);
    the goal gets what the width leaves."""
    rows = [
        [
            r.run_id,
            styled(r.status.value),
            str(r.tasks),
            r.started_at.strftime("%m-%d %H:%M") if r.started_at else "",
            r.goal,
        ]
        for r in runs
    ]
    return fitted_table("runs", ["run id", "status", "tasks", "started", "goal"], rows, width)


def _cell_width(cell: Any) -> int:
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return max((len(line) for line in text.split("\n")), default=0)


def _room(width: int, heads: list[str], rows: list[list[Any]]) -> int:
    """Characters left for a table's last column once the others take what they need.

    Each column costs its widest cell plus three (padding and a rule); the
    table one more for its closing rule.
    """
    used = 1
    for i, head in enumerate(heads):
        used += 3 + max([_cell_width(head), *(_cell_width(r[i]) for r in rows)])
    return max(12, width - used - 3)


def fitted_table(title: str, heads: list[str], rows: list[list[Any]], width: int) -> Table:
    """A table no wider than `width`: every column but the last keeps its cells whole
    on one line (ids, tool names, statuses never wrap); the last column's cells are
    summarised to the room left, so long values read as a summary, not a cut."""
    room = _room(width, heads[:-1], [r[:-1] for r in rows])
    table = Table(title=title, width=None)
    for head in heads[:-1]:
        table.add_column(head, no_wrap=True, overflow="ellipsis")
    table.add_column(heads[-1], no_wrap=True, overflow="ellipsis", max_width=room)
    for row in rows:
        last = row[-1] if isinstance(row[-1], Text) else summarise(row[-1], room)
        # Every cell as Text: a value such as "[models.x]" is shown, not read as markup.
        table.add_row(*(c if isinstance(c, Text) else Text(str(c)) for c in [*row[:-1], last]))
    return table
