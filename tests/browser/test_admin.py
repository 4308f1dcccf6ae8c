"""The admin dashboard (web/admin.html) in real Chromium against a real hub: it signs in with the admin
secret, its charts and tables follow what the test does, and its kick button closes a session."""

import re

import pytest
from playwright.sync_api import expect
from switchboard.bridge import tickets
from switchboard.router import settings as S
from switchboard.router.testing.hub import Hub, wait_until

from tests.dashboard import follows_a_subscriber, sign_in, signed_in_with_the_secret

pytestmark = pytest.mark.browser


@pytest.fixture
def dashboard(browser, switchboard_hub):
    """A signed-out dashboard page in a browser context of its own."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(switchboard_hub.http_url + S.DASHBOARD_PATH)
    yield page
    context.close()


def test_it_signs_in_with_the_admin_secret_and_follows_publishes_and_sessions(switchboard_hub, dashboard):
    signed_in_with_the_secret(dashboard, switchboard_hub.admin_secret)
    with switchboard_hub.client() as reader, switchboard_hub.backend_client() as publisher:
        peer = re.compile(r"^tcp4:127\.0\.0\.1:\d+$")
        follows_a_subscriber(dashboard, reader, publisher, "public.dashboard-test", peer)
        expect(dashboard.locator('#registrations tr[data-uri="demo.add2"] td').nth(2)).to_have_text("1")


def test_its_kick_button_closes_that_session_and_not_its_own(switchboard_hub, dashboard):
    signed_in_with_the_secret(dashboard, switchboard_hub.admin_secret)
    own = dashboard.evaluate("window.dashboard.state.session.id")
    expect(dashboard.locator(f'#sessions tr[data-session="{own}"] button.kick')).to_be_disabled()
    with switchboard_hub.client() as victim:
        row = dashboard.locator(f'#sessions tr[data-session="{victim.session_id}"]')
        row.locator("button.kick").click()
        expect(row).to_have_count(0)  # gone from the next listing
        wait_until(lambda: not victim.is_connected, what="the kicked session closed")
    expect(dashboard.locator("#status")).to_have_attribute("data-state", "online")


def test_a_wrong_secret_is_refused_and_an_admin_ticket_link_signs_in(switchboard_hub, browser, dashboard):
    sign_in(dashboard, "not-the-secret")
    expect(dashboard.locator("#status")).to_have_attribute("data-state", "refused")
    expect(dashboard.locator("#error")).to_contain_text(tickets.INVALID)
    expect(dashboard.locator("#dashboard")).to_be_hidden()

    ticket = tickets.mint(switchboard_hub.ticket_secret, "staff7", role=tickets.ADMIN_ROLE)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{switchboard_hub.http_url}{S.DASHBOARD_PATH}#ticket={ticket}")
        expect(page.locator("#status")).to_have_attribute("data-state", "online")
        expect(page.locator("#whoami")).to_contain_text("staff7")
        assert "ticket" not in page.url  # taken out of the address bar and history
    finally:
        context.close()


def test_a_user_ticket_link_does_not_open_the_dashboard(switchboard_hub, dashboard):
    ticket = tickets.mint(switchboard_hub.ticket_secret, "9")
    dashboard.goto("about:blank")  # a new document: only the fragment changes otherwise
    dashboard.goto(f"{switchboard_hub.http_url}{S.DASHBOARD_PATH}#ticket={ticket}")
    expect(dashboard.locator("#error")).to_contain_text("not admin")
    expect(dashboard.locator("#dashboard")).to_be_hidden()


ANONYMOUS_CALLS = """([url, realm, procedures]) => new Promise((resolve, reject) => {
  const connection = new autobahn.Connection({url, realm, max_retries: 0});
  connection.onopen = (session, details) => {
    Promise.all(procedures.map(p => session.call(p, [1]).then(() => "answered", e => e.error)))
      .then(errors => { connection.close(); resolve([details.authrole, errors]); });
  };
  connection.onclose = (reason) => { reject(new Error("closed: " + reason)); return true; };
  connection.open();
})"""


def test_an_anonymous_browser_session_reaches_no_admin_procedure(switchboard_hub, dashboard):
    procedures = ["wamp.session.kill", "wamp.session.list", "wamp.session.get", "wamp.registration.list"]
    procedures += ["switchboard.admin.stats", "switchboard.admin.since"]
    role, errors = dashboard.evaluate(ANONYMOUS_CALLS, [switchboard_hub.url, switchboard_hub.realm, procedures])
    assert role == "anonymous"
    assert errors == ["wamp.error.not_authorized"] * len(procedures)


def test_signed_in_with_the_secret_it_reconnects_after_a_hub_restart(browser, tmp_path):
    with Hub.started(tmp_path) as hub:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(hub.http_url + S.DASHBOARD_PATH)
            signed_in_with_the_secret(page, hub.admin_secret)
            before = page.evaluate("window.dashboard.state.session.id")
            hub.restart()
            expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=30_000)
            assert page.evaluate("window.dashboard.state.session.id") != before
            expect(page.locator(f'#sessions tr[data-session="{before}"]')).to_have_count(0)
        finally:
            context.close()
