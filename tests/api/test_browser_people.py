"""People in a real headless Chromium: sign in, curate, review from the queue, sign out, CSRF."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ingest.snapshot import import_snapshot
from tests.api.conftest import seeded_app
from tests.api.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.people import make_user, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def people_page(sqlite_engine: Engine) -> Iterator:  # type: ignore[type-arg]
    from playwright.sync_api import sync_playwright
    from waitress.server import create_server

    app = seeded_app(sqlite_engine)
    with Session(sqlite_engine) as session:
        records = [
            {
                "id": "acme/mystery",
                "author": "acme",
                "downloads": 900,
                "cardData": {"license": "other"},
            },
            {"id": "acme/unclear", "author": "acme", "downloads": 800, "cardData": {}},
        ]
        import_snapshot(session, [json.dumps(r) for r in records])
    make_user(sqlite_engine, "rita", "reviewer")
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=f"http://127.0.0.1:{server.effective_port}")
        yield context.new_page()
        context.close()
        browser.close()
    server.close()


def test_sign_in_curate_approve_an_unknown_see_it_done_and_sign_out(people_page) -> None:  # type: ignore[no-untyped-def]
    page = people_page
    page.goto("/models/acme/mystery")
    assert page.locator("#curate-form").count() == 0  # anonymous: read only
    sign_in(page, "rita")
    assert "rita (reviewer)" in page.inner_text("#signed-in-as")

    page.goto("/models/acme/mystery")
    assert page.get_attribute("#verdict-commercial [data-verdict]", "data-verdict") == "unknown"
    page.fill('#curate-form input[name="license"]', "mit")
    page.fill('#curate-form input[name="source"]', "https://example.org/acme/mystery/LICENSE@1")
    page.fill('#curate-form input[name="comment"]', "the LICENSE file is MIT")
    page.click('#curate-form button[type="submit"]')
    page.wait_for_url("**/models/acme/mystery")
    assert page.get_attribute("#verdict-commercial [data-verdict]", "data-verdict") != "unknown"
    assert "curated by rita" in page.inner_text("#verdict-commercial .reason-curated")

    page.goto("/queue")
    assert page.locator('#queue tr[data-model="acme/unclear"]').count() == 1
    assert page.locator('#queue tr[data-model="acme/mystery"]').count() == 0  # curated: cleared
    page.check('#queue input[value="acme/unclear"]')
    page.select_option('select[name="decision"]', "approved")
    page.fill('fieldset input[name="comment"]', "internal tool, legal said fine")
    page.click('fieldset button[type="submit"]')
    page.wait_for_url("**/queue?status=done")
    done = page.locator('#queue tr[data-model="acme/unclear"]')
    assert "approved by rita" in done.inner_text()

    page.goto("/models/acme/unclear")
    assert "approved by rita" in page.inner_text("#review-commercial")
    page.click("#signout-button")
    page.wait_for_selector("#signin-link")
    page.goto("/models/acme/unclear")
    assert page.locator("#review-form").count() == 0


def test_a_form_posted_without_its_csrf_token_is_refused(people_page) -> None:  # type: ignore[no-untyped-def]
    page = people_page
    sign_in(page, "rita")
    page.goto("/models/acme/mystery")
    page.eval_on_selector('#review-form input[name="csrf_token"]', "e => e.remove()")
    page.fill('#review-form input[name="comment"]', "forged")
    page.click('#review-form button[type="submit"]')
    page.wait_for_load_state()
    assert "CSRF" in page.inner_text("body")
    page.goto("/models/acme/mystery")
    assert page.locator("#review-commercial").count() == 0
