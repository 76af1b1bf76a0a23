"""SSE: the whole log, exactly the events after Last-Event-ID, and live events until the end."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from tests.api._app import book_plan, hold_plan
from tests.api.test_runs import finished


def parse_sse(text: str) -> list[dict[str, Any]]:
    """SSE blocks as {id, event, data}; comments (keep-alives) are dropped."""
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":") or ": " not in line:
                continue
            name, value = line.split(": ", 1)
            fields[name] = value
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
            out.append(fields)
    return out


async def events_of(client: httpx.AsyncClient, run_id: str, **kw: Any) -> list[dict[str, Any]]:
    r = await client.get(f"/v1/runs/{run_id}/events", **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return parse_sse(r.text)


async def test_the_stream_replays_the_whole_log_and_ends_after_run_finished(
    client: httpx.AsyncClient,
) -> None:
    run_id = (await client.post("/v1/runs", json={"plan": book_plan("Dune", "Emma")})).json()[
        "run_id"
    ]
    await finished(client, run_id)
    got = await events_of(client, run_id)
    stored = client.app.state.service.store.events(run_id)  # type: ignore[attr-defined]
    assert [int(e["id"]) for e in got] == list(range(1, len(stored) + 1))
    assert [e["event"] for e in got] == [s.type.value for s in stored]
    assert [e["data"] for e in got] == [s.model_dump(mode="json") for s in stored]
    assert got[-1]["event"] == "RunFinished"


async def test_last_event_id_resumes_the_stream_without_losing_or_repeating_events(
    client: httpx.AsyncClient,
) -> None:
    run_id = (await client.post("/v1/runs", json={"plan": book_plan("Dune", "Emma")})).json()[
        "run_id"
    ]
    await finished(client, run_id)
    full = await events_of(client, run_id)
    for cut in range(len(full)):
        rest = await events_of(client, run_id, headers={"Last-Event-ID": str(cut)})
        assert full[:cut] + rest == full, f"reconnecting after {cut}"
    by_query = await events_of(client, run_id, params={"after": 3})
    assert by_query == full[3:]


async def test_a_stream_opened_mid_run_follows_it_live_to_the_end(
    client: httpx.AsyncClient, gate: Any
) -> None:
    run_id = (await client.post("/v1/runs", json={"plan": hold_plan("live")})).json()["run_id"]
    await asyncio.wait_for(gate.started.wait(), 5)
    store = client.app.state.service.store  # type: ignore[attr-defined]
    seen_before = len(store.events(run_id))
    # Two streams opened while the run waits: from the start, and after what exists now.
    whole = asyncio.create_task(events_of(client, run_id))
    tail = asyncio.create_task(events_of(client, run_id, headers={"Last-Event-ID": "2"}))
    await asyncio.sleep(0.2)
    assert not whole.done(), "the stream stays open while the run is live"
    gate.release.set()
    got, rest = await asyncio.wait_for(asyncio.gather(whole, tail), 10)
    assert len(got) > seen_before
    assert [int(e["id"]) for e in got] == list(range(1, len(got) + 1))
    assert rest == got[2:]
    assert got[-1]["event"] == "RunFinished" and got[-1]["data"]["data"]["status"] == "succeeded"


async def test_a_cancelled_run_s_stream_ends_after_run_interrupted(
    client: httpx.AsyncClient, gate: Any
) -> None:
    run_id = (await client.post("/v1/runs", json={"plan": hold_plan()})).json()["run_id"]
    await asyncio.wait_for(gate.started.wait(), 5)
    stream = asyncio.create_task(events_of(client, run_id))
    await asyncio.sleep(0.1)
    await client.post(f"/v1/runs/{run_id}/cancel")
    got = await asyncio.wait_for(stream, 10)
    assert got[-1]["event"] == "RunInterrupted"
    again = await asyncio.wait_for(events_of(client, run_id), 10)
    assert again == got, "a finished-for-now run's stream ends too"
