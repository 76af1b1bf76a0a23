"""Errors: 401 on every guarded route, 404, 413, 422 — always JSON, never a traceback."""

from __future__ import annotations

import httpx
import pytest
from tests.api._app import book_plan, make_app

KEY = "s3cret-key"
GUARDED = [
    ("POST", "/v1/runs"),
    ("GET", "/v1/runs"),
    ("GET", "/v1/runs/r1"),
    ("GET", "/v1/runs/r1/events"),
    ("POST", "/v1/runs/r1/cancel"),
    ("POST", "/v1/runs/r1/resume"),
    ("GET", "/v1/tools"),
    ("POST", "/v1/chat/completions"),
    ("GET", "/v1/models"),
]


def guarded_routes_cover_the_api() -> set[tuple[str, str]]:
    schema = make_app().openapi()
    return {
        (method.upper(), path.replace("{run_id}", "r1"))
        for path, ops in schema["paths"].items()
        if path.startswith("/v1/")
        for method in ops
    }


def test_the_guarded_list_is_every_v1_route() -> None:
    assert guarded_routes_cover_the_api() == set(GUARDED)


@pytest.fixture
async def keyed() -> httpx.AsyncClient:
    app = make_app(keys=("other-key", KEY))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize(("method", "path"), GUARDED)
@pytest.mark.parametrize("auth", [None, "Bearer wrong", f"Basic {KEY}", "Bearer "])
async def test_401_without_or_with_a_wrong_key(
    keyed: httpx.AsyncClient, method: str, path: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    r = await keyed.request(method, path, json={"question": "x"}, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_a_right_key_passes_and_health_and_docs_need_none(keyed: httpx.AsyncClient) -> None:
    ok = await keyed.get("/v1/runs", headers={"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200
    for path in ("/healthz", "/readyz", "/docs", "/redoc", "/openapi.json", "/"):
        assert (await keyed.get(path)).status_code == 200, path


async def test_unknown_runs_are_404(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/v1/runs/nope"),
        ("GET", "/v1/runs/nope/events"),
        ("POST", "/v1/runs/nope/cancel"),
        ("POST", "/v1/runs/nope/resume"),
    ]:
        r = await client.request(method, path)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"] == {"type": "not_found", "message": "no run 'nope'"}


async def test_a_body_over_the_limit_is_413() -> None:
    app = make_app(max_body=1000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/v1/runs", json={"question": "x" * 2000})
        assert r.status_code == 413 and "1000 bytes" in r.json()["error"]["message"]

        async def chunks():  # no Content-Length: counted as it arrives
            for _ in range(5):
                yield b"x" * 300

        r = await c.post("/v1/runs", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, 'exactly one of "question" or "plan"'),
        ({"question": "q", "plan": book_plan("Dune")}, 'exactly one of "question" or "plan"'),
        ({"question": "   "}, "empty"),
        ({"question": "q", "mode": "psychic"}, "mode"),
        ({"question": "q", "colour": "red"}, "colour"),
        ({"question": "q", "budget": {"max_seconds": -1}}, "budget.max_seconds"),
        ({"plan": {"tasks": [{"id": "a", "tool": "nosuchtool", "args": {}}]}}, "nosuchtool"),
        ({"plan": {"tasks": "nope"}}, "tasks"),
    ],
)
async def test_malformed_input_is_422_with_a_clear_message(
    client: httpx.AsyncClient, body: dict, needle: str
) -> None:
    r = await client.post("/v1/runs", json=body)
    assert r.status_code == 422, r.text
    assert needle in r.json()["error"]["message"]
    assert "Traceback" not in r.text


async def test_invalid_json_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/runs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]["message"]


async def test_an_internal_error_is_500_without_a_traceback() -> None:
    from fastapi import FastAPI

    from veritask.api.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/boom")
    assert r.status_code == 500
    assert "secret detail" not in r.text and "Traceback" not in r.text
    assert r.json()["error"]["type"] == "internal_error"


async def test_a_body_that_is_not_utf8_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/runs", content=b"\xff\x0b\xfe!)w", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "UTF-8 JSON" in r.json()["error"]["message"]
