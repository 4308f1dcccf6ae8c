"""The Django app's dashboard/ view: staff users go to the hub's admin dashboard with a fresh ticket
with role admin in the URL fragment; anyone else does not. In Chromium, against a real hub, the
dashboard opens signed in."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from switchboard.bridge import tickets

pytestmark = pytest.mark.django_db(transaction=True)

DASHBOARD = "/switchboard/dashboard/"


def test_a_staff_user_is_sent_to_the_hub_dashboard_with_an_admin_ticket(client, django_user_model, settings):
    staff = django_user_model.objects.create_user("ops", password="pw", is_staff=True)
    client.force_login(staff)
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and response["Cache-Control"] == "no-store"
    page, _, ticket = response["Location"].partition("#ticket=")
    assert page == "http://127.0.0.1:9/admin.html"  # the hub of settings.SWITCHBOARD["URL"]
    payload = tickets.verify(settings.SWITCHBOARD["TICKET_SECRET"], ticket)
    assert (payload["sub"], payload["role"]) == (str(staff.pk), tickets.ADMIN_ROLE)
    assert client.get(DASHBOARD)["Location"] != response["Location"]  # a fresh ticket every time


def test_users_who_are_not_staff_get_no_admin_ticket(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ann", password="pw"))
    response = client.get(DASHBOARD)
    assert response.status_code == 403 and response.json()["error"] == "wamp.error.not_authorized"
    inactive = django_user_model.objects.create_user("gone", password="pw", is_staff=True, is_active=False)
    client.force_login(inactive)
    assert client.get(DASHBOARD).status_code in (302, 403)  # Django signs inactive users out
    assert "#ticket=" not in client.get(DASHBOARD).get("Location", "")


def test_anonymous_users_are_sent_to_log_in_first(client, settings):
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == settings.LOGIN_URL and "next=/switchboard/dashboard/" in location.query


def test_the_view_needs_get(admin_client):
    assert admin_client.post(DASHBOARD).status_code in (403, 405)  # CSRF or method


@pytest.mark.browser
def test_a_staff_user_lands_on_the_dashboard_signed_in(browser, live_server, hub_settings, django_user_model):
    staff = django_user_model.objects.create_user("ops", password="pw", is_staff=True)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(live_server.url + "/accounts/login/?next=" + DASHBOARD)
        page.fill("#id_username", "ops")
        page.fill("#id_password", "pw")
        page.click("button[type=submit]")
        page.wait_for_url(hub_settings.http_url + "admin.html")
        expect(page.locator("#status")).to_have_attribute("data-state", "online")
        expect(page.locator("#whoami")).to_contain_text(f"as {staff.pk} ")
        expect(page.locator("#sessions tr .role", has_text="admin").first).to_be_visible()
    finally:
        context.close()
