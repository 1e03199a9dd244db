"""Browser tests of the console: Playwright's sync API driving Debian's headless shell of
Chromium (/usr/bin/chromium-headless-shell, installed by the Makefile; no browser download; the
engine Playwright itself runs headless, at about 60% of the full browser's CPU) against a real
Assay server on each storage backend, seeded through the API and the ledger.
ASSAY_TEST_CHROMIUM names another Chromium binary (e.g. /usr/bin/chromium)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from seed import seed

CHROMIUM = os.environ.get("ASSAY_TEST_CHROMIUM", "/usr/bin/chromium-headless-shell")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 860}  # a laptop screen


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's "
                    "chromium-headless-shell (apt-get install chromium-headless-shell).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch() starts Chromium on a fresh temporary user data dir (Playwright creates it
        # and removes it on close), and every test opens its own isolated context in it.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(chromium, server):
    context = chromium.new_context(viewport=VIEWPORT, base_url=server.url, accept_downloads=True)
    context.set_default_timeout(15000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Content-Security-Policy violations (an inline script or style, a foreign resource).
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and message.text.startswith("Refused") else None)
    # No request may leave for another host: the console serves everything itself.
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
    yield page
    assert not errors, f"JavaScript errors: {errors}"
    assert not outside, f"requests to other hosts: {outside}"


@pytest.fixture(scope="module")
def world(server):
    return seed(server)


@pytest.fixture(scope="session")
def shots(artifacts) -> Path:
    folder = artifacts / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def shot(shots, server):
    """Save a full-page screenshot as a test artifact:
    test-artifacts/console/<backend>-<name>.png"""
    def take(page, name: str) -> Path:
        path = shots / f"{server.backend}-{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take


def sign_in(page, identity, next_path: str | None = None) -> None:
    page.goto("/console/sign-in" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("Access key ID").fill(identity.key_id)
    page.get_by_label("Secret access key").fill(identity.secret)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
