"""Secrets: credentials are shown as *** everywhere a run is shown, and `$env:NAME`
arguments are read only when the task runs, never written to the log."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from veritask import Orchestrator
from veritask.cli import app
from veritask.plan.refs import env_names, refs_in, resolve_env
from veritask.plan.validation import validate_plan
from veritask.redact import MASK, redact, redact_text
from veritask.runtime.result import answer_json
from veritask.store import open_store
from veritask.tools import ToolRegistry
from veritask.types import EventType, OutcomeStatus, Plan, RunStatus

SECRET = "sk-ant-api03-SECRETSECRETSECRET"
GH = "ghp_" + "a1B2" * 9


@pytest.mark.parametrize(
    "value",
    [
        "sk-proj-abcdefghijklmnop1234",
        SECRET,
        GH,
        "xoxb-1234567890-abcdefghij",
        "AKIAIOSFODNN7EXAMPLE",
        "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
    ],
)
def test_known_key_formats_are_masked_anywhere_in_text(value: str) -> None:
    assert redact(value) == MASK
    assert redact_text(f"call failed with {value} (401)") == f"call failed with {MASK} (401)"


def test_secret_named_fields_are_masked_but_counts_and_env_names_stay() -> None:
    data = {
        "API_Key": "plain-looking",
        "auth": {"Authorization": "Basic abc", "password": ["x", "y"]},
        "githubToken": "abc",
        "client_secret": "s",
        "input_tokens": 120,
        "key_ref": "$env:MY_KEY",
        "country": "France",
    }
    shown = redact(data)
    assert shown["API_Key"] == MASK
    assert shown["auth"] == {"Authorization": MASK, "password": [MASK, MASK]}
    assert shown["githubToken"] == MASK and shown["client_secret"] == MASK
    assert shown["input_tokens"] == 120  # a count, not a credential
    assert shown["key_ref"] == "$env:MY_KEY"  # names a secret, is not one
    assert shown["country"] == "France"
    assert data["API_Key"] == "plain-looking"  # a copy; the input is unchanged
    assert redact_text('{"api_key": "abc", "n": 1}') == '{"api_key": "***", "n": 1}'


def test_env_reference_is_not_a_task_reference() -> None:
    assert refs_in("$env:API_KEY") == ()
    assert [str(r) for r in refs_in("$env:TOKEN and $a.b")] == ["$a.b"]
    assert env_names({"h": ["Bearer $env:TOKEN"], "k": "$env:API_KEY"}) == ["TOKEN", "API_KEY"]
    assert resolve_env("Bearer $env:T", {"T": "x"}) == "Bearer x"


@pytest.fixture
def received() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def tools(registry: ToolRegistry, received: list[dict[str, Any]]) -> ToolRegistry:
    @registry.tool
    def fetch(url: str, api_key: str, port: int = 443) -> dict[str, Any]:
        """Fetch a record with a credential (test double)."""
        received.append({"url": url, "api_key": api_key, "port": port})
        # A careless source that echoes credentials back in its record.
        return {"name": "record", "token": "tok-visible-to-log", "note": f"used {GH}"}

    return registry


PLAN = {
    "goal": "fetch with a secret",
    "tasks": [
        {
            "id": "f",
            "tool": "fetch",
            "args": {
                "url": "https://x.test/?k=$env:VT_TEST_KEY",
                "api_key": "$env:VT_TEST_KEY",
                "port": "$env:VT_TEST_PORT",
            },
        }
    ],
}


def test_plan_validation_accepts_env_references(tools: ToolRegistry) -> None:
    # `port` is an int: `$env:VT_TEST_PORT` is checked only when it has a value.
    assert validate_plan(Plan.model_validate(PLAN), tools) == []


def test_env_secret_resolved_at_run_time_and_never_stored(
    tools: ToolRegistry,
    received: list[dict[str, Any]],
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VT_TEST_KEY", SECRET)
    monkeypatch.setenv("VT_TEST_PORT", "8443")
    result = Orchestrator(store=store_url, registry=tools, memory=False).execute(PLAN)
    assert result.status is RunStatus.SUCCEEDED
    assert received == [{"url": f"https://x.test/?k={SECRET}", "api_key": SECRET, "port": 8443}]
    events = open_store(store_url).events(result.run_id)
    stored = json.dumps([e.model_dump(mode="json") for e in events])
    assert SECRET not in stored and "8443" not in stored
    accepted = next(e for e in events if e.type is EventType.PLAN_ACCEPTED)
    assert accepted.data["plan"]["tasks"][0]["args"]["api_key"] == "$env:VT_TEST_KEY"
    query = result.outcomes["f"].evidence[0].query
    assert query["api_key"] == "$env:VT_TEST_KEY" and query["port"] == "$env:VT_TEST_PORT"
    # What the tool itself returned is stored as it came, and shown redacted.
    shown = result.to_json()
    assert shown["tasks"][0]["value"]["token"] == MASK
    assert GH not in json.dumps(shown) and GH not in json.dumps(answer_json(result))


def test_missing_variable_fails_the_task_by_name_without_retry(
    tools: ToolRegistry, received: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VT_TEST_KEY", raising=False)
    monkeypatch.setenv("VT_TEST_PORT", "1")
    result = Orchestrator(store="memory://", registry=tools, memory=False).execute(PLAN)
    outcome = result.outcomes["f"]
    assert outcome.status is OutcomeStatus.FAILED and outcome.attempts == 1
    assert outcome.error is not None and outcome.error.type == "MissingSecret"
    assert "VT_TEST_KEY" in outcome.error.message and not outcome.error.retryable
    assert received == []
    assert any("VT_TEST_KEY" in gap for gap in result.gaps)


def test_show_events_and_json_are_redacted(
    tools: ToolRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("VERITASK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("VT_TEST_KEY", SECRET)
    monkeypatch.setenv("VT_TEST_PORT", "1")
    store = f"sqlite:///{tmp_path}/runs.db"
    plan = json.loads(json.dumps(PLAN))
    plan["tasks"][0]["args"]["url"] = f"https://x.test/?auth=Bearer {GH}"  # pasted in the plan
    run = Orchestrator(store=store, registry=tools, memory=False).execute(plan)
    runner = CliRunner()
    for args in (
        ["show", run.run_id],
        ["show", run.run_id, "--events"],
        ["show", run.run_id, "--json", "--events"],
    ):
        out = runner.invoke(app, [*args, "--store", store], env={"COLUMNS": "400"})
        assert out.exit_code == 0, out.output
        assert GH not in out.output and "tok-visible-to-log" not in out.output, args
        assert MASK in out.output
    shown = runner.invoke(app, ["show", run.run_id, "--json", "--store", store])
    assert json.loads(shown.output)["trace_id"]
