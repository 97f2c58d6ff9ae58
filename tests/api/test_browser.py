"""The pages in a real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from tests.api.conftest import seeded_app

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live_url(sqlite_engine: Engine) -> Iterator[str]:
    from waitress.server import create_server

    server = create_server(seeded_app(sqlite_engine), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture
def page(live_url: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    if not shutil.which("chromium"):
        pytest.fail(
            "Debian's chromium is not installed: `make test` installs it (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=live_url)
        page = context.new_page()
        yield page
        context.close()
        browser.close()


def test_search_by_license_then_toggle_commercial_use(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.click('a[data-facet="license"][data-value="llama2"]')
    page.wait_for_url("**license=llama2**")
    assert page.inner_text("#total") == "6 models"
    page.click("#commercial-toggle")
    page.wait_for_url("**commercial=true**")
    assert page.get_attribute("#commercial-toggle", "aria-pressed") == "true"
    assert page.inner_text("#total") == "6 models"
    page.goto("/?license=cc-by-nc-sa-4.0")
    assert page.inner_text("#total") == "1 models"
    page.click("#commercial-toggle")
    page.wait_for_url("**commercial=true**")
    assert page.inner_text("#total") == "0 models"


def test_open_a_model_see_its_verdict_and_lineage_then_follow_its_license(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/?q=starchat")
    page.click("text=HuggingFaceH4/starchat-beta")
    page.wait_for_url("**/models/HuggingFaceH4/starchat-beta")
    assert page.get_attribute("#verdict-commercial [data-verdict]", "data-verdict") == "conditional"
    assert page.locator("#obligations").inner_text().count("use-restrictions") >= 2
    nodes = page.locator("#lineage-graph .lineage-node")
    assert nodes.count() >= 4
    assert page.locator(
        '#lineage-graph .lineage-node[data-id="bigcode/starcoderbase"]'
    ).is_visible()
    page.screenshot(path="/tmp/modelcatalog-model-page.png", full_page=True)
    page.click("a.license-link")
    page.wait_for_url("**/licenses/bigcode-openrail-m")
    assert "BigCode Open RAIL-M" in page.inner_text("h1")


def test_paste_a_list_and_read_the_verdicts_in_a_browser(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/scan")
    page.fill("#scan-models", "tiiuae/falcon-40b\nmosaicml/mpt-30b-chat\n")
    page.select_option("#scan-use", "commercial")
    page.click("#scan-form button[type=submit]")
    page.wait_for_selector("#scan-verdicts")
    rows = page.locator("#scan-verdicts tbody tr")
    assert rows.count() == 2
    assert page.locator("#scan-verdicts [data-verdict=forbidden]").count() == 1
