"""Shared test setup. `switchboard_hub` / `switchboard_client` come from
switchboard.router.testing.pytest_plugin (pytest11).

The browser fixtures live here, at the top, so tests/browser and tests/django share ONE Playwright
instance: its sync API keeps an event loop in the test thread, and a second one would refuse to start.
Browsers are Debian chromium driven by Python playwright (it cannot download browsers here).
"""

import os
import re
import shutil

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium_path():
    return os.environ.get("SWITCHBOARD_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    path = _chromium_path()
    if not path:
        message = "Debian chromium is not installed (make test installs it as root: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Outage:
    """Cuts a page's WebSocket traffic to the hub, as a network outage would.

    Playwright's set_offline does not touch WebSockets, so the page's sockets are routed through
    Playwright (route_web_socket) and closed, and new ones refused, while the outage lasts.
    """

    def __init__(self, page):
        self.offline = False
        self._open = []
        page.route_web_socket(re.compile(r".*/ws$"), self._route)

    def _route(self, ws):
        if self.offline:
            ws.close()
            return
        ws.connect_to_server()
        self._open.append(ws)

    def start(self, cut: bool = True):
        """`cut=False`: the open sockets stay (until their server closes them), new ones are refused."""
        self.offline = True
        if cut:
            for ws in self._open:
                ws.close()
        self._open.clear()

    def end(self):
        self.offline = False


@pytest.fixture
def new_page(browser):
    """Pages in separate browser contexts, as separate people would have. `page.outage` cuts its
    connection to the hub (`page.outage.start()` / `.end()`)."""
    contexts = []

    def make(url):
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.outage = Outage(page)
        page.goto(url)
        page.wait_for_selector('#status[data-state="online"]')
        return page

    yield make
    for context in contexts:
        context.close()
