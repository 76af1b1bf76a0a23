"""Runs over HTTP: start by question and by plan, list and get, cancel, resume, idempotency."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from tests.api._app import ANSWER, BOOK, HOLD, book_plan, hold_plan


async def finished(client: httpx.AsyncClient, run_id: str, timeout: float = 60) -> dict[str, Any]:
    """Poll GET /v1/runs/{id} until the run is no longer driven."""
    async with asyncio.timeout(timeout):
        while True:
            run = (await client.get(f"/v1/runs/{run_id}")).json()
            if not run["active"] and run["status"] != "running":
                return run
            await asyncio.sleep(0.01)


async def test_a_question_runs_in_the_background_and_its_answer_is_grounded(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/v1/runs", json={"question": "Who wrote Dune?"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert r.headers["location"] == f"/v1/runs/{body['run_id']}"
    run = await finished(client, body["run_id"])
    assert run["status"] == "succeeded"
    assert run["answer"]["text"] == ANSWER and run["answer"]["status"] == "answered"
    assert run["value"] == "Frank Herbert"
    assert run["confidence"] > 0.5 and run["gaps"] == []
    assert run["mode"] == "orchestrated"
    assert [t["tool"] for t in run["tasks"]] == [BOOK]
    assert run["tasks"][0]["evidence"], "each outcome carries its evidence"
    assert set(run["usage"]) == {"input_tokens", "output_tokens", "cost_usd", "latency_s"}


async def test_a_plan_runs_without_planning_and_reports_its_dag(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/v1/runs", json={"plan": book_plan("Dune", "Emma")})
    assert r.status_code == 202, r.text
    run = await finished(client, r.json()["run_id"])
    assert run["status"] == "succeeded"
    assert run["value"] == "886 pages in all."
    by_id = {t["id"]: t for t in run["tasks"]}
    assert by_id["total"]["deps"] == ["b0", "b1"] and by_id["total"]["depth"] == 1
    assert by_id["b0"]["depth"] == 0 and by_id["b0"]["value"]["author"] == "Frank Herbert"
    assert all(t["status"] == "succeeded" for t in run["tasks"])


async def test_a_failed_task_is_a_named_gap(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/runs", json={"plan": book_plan("Dune", "Narnia")})
    run = await finished(client, r.json()["run_id"])
    assert run["status"] == "failed"
    assert any("b1" in g and "Narnia" in g for g in run["gaps"]), run["gaps"]


async def test_runs_are_listed_newest_first_and_paged(client: httpx.AsyncClient) -> None:
    ids = []
    for _ in range(3):
        r = await client.post("/v1/runs", json={"plan": book_plan("Dune")})
        ids.append(r.json()["run_id"])
        await finished(client, ids[-1])
        await asyncio.sleep(1.01)  # run ids and started_at have one-second resolution
    first = (await client.get("/v1/runs", params={"limit": 2})).json()
    assert [r["run_id"] for r in first["runs"]] == ids[::-1][:2]
    assert first["next_offset"] == 2
    rest = (await client.get("/v1/runs", params={"limit": 2, "offset": 2})).json()
    assert [r["run_id"] for r in rest["runs"]] == [ids[0]]
    assert rest["next_offset"] is None
    assert rest["runs"][0]["status"] == "succeeded"


async def test_the_same_idempotency_key_returns_the_same_run(client: httpx.AsyncClient) -> None:
    body = {"plan": book_plan("Dune")}
    headers = {"Idempotency-Key": "k-123"}
    first = await client.post("/v1/runs", json=body, headers=headers)
    again = await client.post("/v1/runs", json=body, headers=headers)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["run_id"] == first.json()["run_id"] and again.json()["replayed"]
    other = await client.post("/v1/runs", json=body, headers={"Idempotency-Key": "k-456"})
    assert other.json()["run_id"] != first.json()["run_id"]
    misuse = await client.post("/v1/runs", json={"plan": book_plan("Emma")}, headers=headers)
    assert misuse.status_code == 422 and "Idempotency-Key" in misuse.json()["error"]["message"]
    await finished(client, first.json()["run_id"])
    await finished(client, other.json()["run_id"])
    listed = (await client.get("/v1/runs")).json()["runs"]
    assert len(listed) == 2


async def test_idempotency_keys_survive_a_restart_with_a_sqlite_store(store_url: str) -> None:
    from tests.api._app import make_app

    body = {"plan": book_plan("Dune")}
    run_ids = []
    for _ in range(2):  # two app instances on one file: a restart
        app = make_app(store_url)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            r = await c.post("/v1/runs", json=body, headers={"Idempotency-Key": "same"})
            run_ids.append(r.json()["run_id"])
            await finished(c, run_ids[-1])
    assert run_ids[0] == run_ids[1]


async def test_cancel_stops_the_running_tool_and_the_run_stays_resumable(
    client: httpx.AsyncClient, gate: Any
) -> None:
    r = await client.post("/v1/runs", json={"plan": hold_plan("first")})
    run_id = r.json()["run_id"]
    await asyncio.wait_for(gate.started.wait(), 5)
    running = (await client.get(f"/v1/runs/{run_id}")).json()
    assert running["active"] and running["tasks"][0]["status"] == "running"

    cancelled = await client.post(f"/v1/runs/{run_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json() == {"run_id": run_id, "status": "interrupted", "cancelled": True}
    assert gate.cancelled == ["first"], "the tool's own task was cancelled"
    gate.release.set()
    await asyncio.sleep(0.05)
    assert gate.finished == [], "nothing kept running after the cancel"

    run = (await client.get(f"/v1/runs/{run_id}")).json()
    assert run["status"] == "interrupted" and not run["active"]
    events = client.app.state.service.store.events(run_id)  # type: ignore[attr-defined]
    assert events[-1].type.value == "RunInterrupted"
    again = await client.post(f"/v1/runs/{run_id}/cancel")
    assert again.status_code == 409

    resumed = await client.post(f"/v1/runs/{run_id}/resume")
    assert resumed.status_code == 202, resumed.text
    run = await finished(client, run_id)
    assert run["status"] == "succeeded" and run["value"] == "first"
    assert gate.finished == ["first"]
    done = await client.post(f"/v1/runs/{run_id}/resume")
    assert done.status_code == 422 and "already finished" in done.json()["error"]["message"]


async def test_resume_is_refused_while_the_run_is_driven(
    client: httpx.AsyncClient, gate: Any
) -> None:
    r = await client.post("/v1/runs", json={"plan": hold_plan()})
    run_id = r.json()["run_id"]
    await asyncio.wait_for(gate.started.wait(), 5)
    refused = await client.post(f"/v1/runs/{run_id}/resume")
    assert refused.status_code == 409
    assert refused.json()["error"]["type"] == "run_locked"
    gate.release.set()
    assert (await finished(client, run_id))["status"] == "succeeded"


async def test_resume_is_refused_while_another_process_holds_the_lease(
    client: httpx.AsyncClient, gate: Any
) -> None:
    r = await client.post("/v1/runs", json={"plan": hold_plan()})
    run_id = r.json()["run_id"]
    await asyncio.wait_for(gate.started.wait(), 5)
    await client.post(f"/v1/runs/{run_id}/cancel")
    store = client.app.state.service.store  # type: ignore[attr-defined]
    store.acquire_lease(run_id, "other-token", "pid 1 on elsewhere (veritask resume)", 30)
    refused = await client.post(f"/v1/runs/{run_id}/resume")
    assert refused.status_code == 409 and "elsewhere" in refused.json()["error"]["message"]
    store.release_lease(run_id, "other-token")


async def test_cancelling_while_planning_ends_the_log_with_run_interrupted(
    store_url: str,
) -> None:
    from tests.api._app import LIBRARY

    from veritask import Orchestrator, Settings
    from veritask.api import ApiConfig, create_app
    from veritask.models import ScriptedModel
    from veritask.models.scripted import HANG
    from veritask.store import open_store

    store = open_store(store_url)
    app = create_app(
        Settings(store=store.url),
        orchestrator_factory=lambda s, o: Orchestrator(
            s, model=ScriptedModel(default=HANG), toolkits=[LIBRARY], memory=False
        ),
        store=store,
        config=ApiConfig(poll_interval_s=0.05),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        run_id = (await c.post("/v1/runs", json={"question": "Who wrote Dune?"})).json()["run_id"]
        async with asyncio.timeout(5):
            while not store.events(run_id):
                await asyncio.sleep(0.01)
        assert (await c.post(f"/v1/runs/{run_id}/cancel")).status_code == 200
        run = (await c.get(f"/v1/runs/{run_id}")).json()
    assert run["status"] == "interrupted"
    assert store.events(run_id)[-1].data["reason"] == "cancelled"


async def test_tools_lists_toolkits_and_schemas(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/tools")).json()
    assert [tk["tools"] for tk in body["toolkits"]] == [[BOOK, HOLD]]
    tools = {t["name"]: t for t in body["tools"]}
    assert tools[BOOK]["parameters"]["properties"]["title"]["type"] == "string"
    assert "calc" in tools


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["store"] == "ok"
    assert ready.json()["model"]  # the planning model's provider was built


async def test_readiness_fails_when_the_model_cannot_be_built() -> None:
    from veritask import Settings
    from veritask.api import create_app
    from veritask.store import open_store

    store = open_store("memory://")
    app = create_app(Settings(store=store.url, model="nonsense"), store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        ready = await c.get("/readyz")
    assert ready.status_code == 503 and "model" in ready.json()


async def test_a_run_s_budget_is_honoured(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/runs", json={"plan": book_plan("Dune", "Emma"), "budget": {"max_tasks": 1}}
    )
    run = await finished(client, r.json()["run_id"])
    assert run["status"] != "succeeded"
    assert any("budget for tasks exceeded" in g for g in run["gaps"]), run["gaps"]


async def test_an_unknown_toolkit_is_422(client: httpx.AsyncClient) -> None:
    from veritask.api.service import default_factory
    from veritask.config import Settings

    client.app.state.service.factory = default_factory(Settings(store="memory://"))  # type: ignore[attr-defined]
    r = await client.post("/v1/runs", json={"question": "q?", "toolkits": ["nosuchkit"]})
    assert r.status_code == 422 and "nosuchkit" in r.json()["error"]["message"]
