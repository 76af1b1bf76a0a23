"""The OpenAI-compatible endpoint: in process, and with the official `openai` client
against a real uvicorn server on 127.0.0.1 (what `veritask serve` runs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.api._app import ANSWER, make_app
from tests.api._live import LiveServer
from tests.api.test_events import parse_sse

openai = pytest.importorskip("openai", reason="the openai client comes with the models extra")

KEY = "chat-key"
QUESTION = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "Who wrote Dune?"},
]


async def test_a_completion_answers_the_last_user_message(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json={"model": "veritask", "messages": QUESTION})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": ANSWER}
    info = body["veritask"]
    assert info["status"] == "answered" and info["confidence"] > 0.5 and info["gaps"] == []
    run = (await client.get(f"/v1/runs/{info['run_id']}")).json()
    assert run["status"] == "succeeded" and run["goal"] == "Who wrote Dune?"


async def test_a_streamed_completion_ends_with_done(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/chat/completions",
        json={"model": "veritask", "messages": QUESTION, "stream": True},
    )
    lines = [ln[6:] for ln in r.text.split("\n\n") if ln.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    import json

    chunks = [json.loads(x) for x in lines[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == ANSWER
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["veritask"]["status"] == "answered"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"model": "gpt-4o", "messages": QUESTION}, 404, "unknown model"),
        ({"model": "veritask", "messages": []}, 422, "messages"),
        ({"model": "veritask", "messages": [{"role": "system", "content": "x"}]}, 422, "user"),
    ],
)
async def test_bad_chat_requests(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, needle: str
) -> None:
    r = await client.post("/v1/chat/completions", json=body)
    assert r.status_code == status and needle in r.json()["error"]["message"]


async def test_models_lists_one_model_per_mode(client: httpx.AsyncClient) -> None:
    ids = [m["id"] for m in (await client.get("/v1/models")).json()["data"]]
    assert ids == ["veritask", "veritask-single-agent", "veritask-static"]


@pytest.fixture
def live(store_url: str) -> Iterator[LiveServer]:
    with LiveServer(make_app(store_url, keys=(KEY,))) as server:
        yield server


def test_the_openai_client_gets_an_answer_and_a_stream(live: LiveServer) -> None:
    client = openai.OpenAI(base_url=f"{live.url}/v1", api_key=KEY, max_retries=0)
    done = client.chat.completions.create(model="veritask", messages=QUESTION)  # type: ignore[arg-type]
    assert done.choices[0].message.content == ANSWER
    extra = done.model_extra or {}
    assert extra["veritask"]["status"] == "answered" and extra["veritask"]["run_id"]

    stream = client.chat.completions.create(
        model="veritask",
        messages=QUESTION,  # type: ignore[arg-type]
        stream=True,
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ANSWER
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["veritask"]["confidence"] > 0.5

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{live.url}/v1", api_key="wrong", max_retries=0).models.list()


def test_sse_arrives_live_over_a_real_socket(live: LiveServer) -> None:
    """Events reach the client while the run is still going (not buffered to the end)."""
    from tests.api import _app
    from tests.api._app import hold_plan

    gate = _app.GATE[0] = _app.Gate()
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=10) as http:
        run_id = http.post("/v1/runs", json={"plan": hold_plan("wire")}).json()["run_id"]
        seen: list[str] = []
        with http.stream("GET", f"/v1/runs/{run_id}/events") as r:
            buffer = ""
            for text in r.iter_text():
                buffer += text
                seen = [e["event"] for e in parse_sse(buffer)]
                if "TaskStarted" in seen and not gate.release.is_set():
                    assert "RunFinished" not in seen
                    assert gate.loop is not None
                    gate.loop.call_soon_threadsafe(gate.release.set)
        assert seen[-1] == "RunFinished" and gate.finished == ["wire"]
