"""The web view in a real browser (Debian's chromium through Playwright): ask a question,
watch the plan's DAG turn green live, read the answer; saves a screenshot
(docs/web-run-view.png with VERITASK_UPDATE_SCREENSHOT=1)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.api._app import LONGER, make_app
from tests.api._live import LiveServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed (as root: apt-get install -y chromium)"
    ),
]
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "web-run-view.png"
# The committed screenshot is refreshed only on request, so a test run leaves the tree clean.
SCREENSHOT = (
    DOCS_SCREENSHOT
    if os.environ.get("VERITASK_UPDATE_SCREENSHOT") == "1"
    else Path(tempfile.gettempdir()) / "veritask-web-run-view.png"
)


@pytest.fixture
def page(store_url: str) -> Iterator[tuple[Any, str]]:
    with (
        LiveServer(make_app(store_url, script=LONGER)) as server,
        playwright.sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            tab = browser.new_page(viewport={"width": 1100, "height": 900})
            yield tab, server.url
        finally:
            browser.close()


def test_ask_watch_the_dag_turn_green_and_read_the_answer(page: tuple[Any, str]) -> None:
    tab, url = page
    tab.goto(url + "/")
    tab.fill("#question", "Which is longer, Dune or Emma?")
    tab.click("#ask-button")
    tab.wait_for_url("**/runs/*", timeout=60_000)

    nodes = tab.locator("#dag g.node")
    nodes.first.wait_for(timeout=60_000)
    tab.wait_for_function(
        "() => { const n = [...document.querySelectorAll('#dag g.node')];"
        " return n.length === 3 && n.every(g => g.dataset.status === 'succeeded'); }",
        timeout=60_000,
    )
    assert nodes.count() == 3
    colour = tab.locator("#node-t3 rect").get_attribute("stroke")
    assert colour == "#2e7d32", "succeeded tasks are drawn green"
    assert "1.00" in (tab.locator("#node-t3").text_content() or ""), (
        "each node shows its confidence"
    )

    answer = tab.locator("#answer-text")
    answer.wait_for(timeout=60_000)
    assert answer.inner_text() == "Emma is longer."
    claim_links = tab.locator("#answer li a")
    assert [claim_links.nth(i).inner_text() for i in range(claim_links.count())] == [
        "t1",
        "t2",
        "t3",
    ]
    assert "Jane Austen" in tab.locator("#task-t2").inner_text(), "evidence and values shown"
    tab.wait_for_function("() => !document.getElementById('status').textContent.includes('live')")
    assert tab.locator("#status").inner_text() == "succeeded"

    SCREENSHOT.parent.mkdir(exist_ok=True)
    tab.screenshot(path=str(SCREENSHOT), full_page=True)

    tab.goto(url + "/")
    tab.locator("#runs a").first.wait_for(timeout=60_000)
    assert tab.locator("#runs tr").count() == 1
