"""`veritask serve`: registered on the main command; refuses an open port without keys."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from veritask.api.cli import is_loopback
from veritask.cli import app


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    monkeypatch.delenv("VERITASK_API_KEYS", raising=False)
    return calls


def test_without_keys_it_refuses_anything_but_loopback(served: list[dict[str, Any]]) -> None:
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--store", "memory://"])
    assert r.exit_code == 2
    assert "refusing to bind 0.0.0.0: no API keys" in r.output
    assert served == []


def test_without_keys_it_serves_loopback_and_says_so(served: list[dict[str, Any]]) -> None:
    r = CliRunner().invoke(app, ["serve", "--port", "8123", "--store", "memory://"])
    assert r.exit_code == 0, r.output
    assert "no API keys configured: serving on loopback only" in r.output
    assert served[0]["host"] == "127.0.0.1" and served[0]["port"] == 8123


def test_with_keys_it_may_bind_any_interface(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERITASK_API_KEYS", "k1, k2")
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--store", "memory://"])
    assert r.exit_code == 0, r.output
    assert served[0]["app"].state.config.api_keys == ("k1", "k2")


@pytest.mark.parametrize(
    ("host", "loop"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.4", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop
