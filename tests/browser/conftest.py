"""A real Chromium (Debian's, through Playwright) against pytest-django's live server.

Browser tests share one live server and one browser for the session; each test gets a fresh
browser context (no cookies) and creates its own data in a transactional database.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connections

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by the tests
# themselves are still plain synchronous calls, so Django's async guard does not apply.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "pass-word-1234"  # tests.factories.UserFactory's
SCREENSHOTS = Path(os.environ.get("HERALD_SCREENSHOTS", tempfile.gettempdir()))


def _chromium_path() -> str | None:
    return (
        os.environ.get("HERALD_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


@pytest.fixture(autouse=True)
def _live_database(transactional_db: None, django_db_serialized_rollback: None) -> None:
    """Real commits, so the server thread sees each test's rows.

    With serialized rollback each test starts from the rows migrations made (the role groups),
    and the flush that ends it leaves the database as the project's other transactional tests
    expect (see tests/campaigns/test_concurrency.py).
    """


@pytest.fixture
def page(live_server) -> Iterator[sync_api.Page]:
    """A fresh Chromium page; Playwright starts and stops with each test, for the database's sake.

    Between its calls Playwright's sync API marks its event loop as running in this thread, and
    Django's connections then live in per-context storage: connections other than the one the
    test database set-up and serialized rollback use. So Playwright runs only inside the test,
    and the connections the test made meanwhile are closed before it stops.
    """
    path = _chromium_path()
    if path is None:
        pytest.skip("No Chromium found (set HERALD_CHROMIUM).")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1440, "height": 900}, locale="en-US"
        )
        context.set_default_timeout(10_000)
        try:
            yield context.new_page()
        finally:
            connections.close_all()
            context.close()
            browser.close()


@pytest.fixture
def sign_in(page: sync_api.Page) -> Callable[..., sync_api.Page]:
    def sign_in(user, password: str = PASSWORD) -> sync_api.Page:
        page.goto("/login/")
        page.get_by_label("E-mail").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        return page

    return sign_in


@pytest.fixture
def screenshot(page: sync_api.Page) -> Callable[[str], Path]:
    def take(name: str) -> Path:
        path = SCREENSHOTS / f"herald-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
