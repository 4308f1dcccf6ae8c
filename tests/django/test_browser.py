"""The example page in real Chromium: live notes, django.greet, private notifications, reconnects."""

import pytest
from notes.models import Note

from tests.django.conftest import wait_for_hub

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def open_page(browser, live_server, hub_settings):
    """open_page(path, login=(username, password)) -> a page, online, in a browser context of its own."""
    contexts = []

    def open_(path="/", login=None, wait_online=True):
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        if login:
            page.goto(live_server.url + "/accounts/login/?next=/")
            page.fill("#id_username", login[0])
            page.fill("#id_password", login[1])
            page.click("button[type=submit]")
            page.wait_for_url(live_server.url + "/")
        if path != "/" or not login:
            page.goto(live_server.url + path)
        if wait_online:
            page.wait_for_selector('#status[data-state="online"]')
        return page

    yield open_
    for context in contexts:
        context.close()


def note_item(title):
    return f'#notes li:has(.title:text-is("{title}"))'


def test_the_page_updates_live_as_notes_change(open_page):
    page = open_page()
    assert page.evaluate("document.body.dataset.authrole") == "anonymous"
    note = Note.objects.create(title="Live note", body="from the ORM")
    page.wait_for_selector(note_item("Live note"))
    assert page.text_content(note_item("Live note") + " .body") == "from the ORM"
    note.title = "Renamed note"
    note.save()
    page.wait_for_selector(note_item("Renamed note"))
    assert page.locator(note_item("Live note")).count() == 0
    note.delete()
    page.wait_for_selector(note_item("Renamed note"), state="detached")


def test_a_note_saved_in_the_admin_appears_on_the_page(open_page, django_user_model):
    django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    page = open_page()
    admin = open_page("/admin/notes/note/add/", login=("admin", "pw"), wait_online=False)
    admin.fill("#id_title", "Saved in the admin")
    admin.fill("#id_body", "hello from the admin")
    admin.click('input[name="_save"]')
    page.wait_for_selector(note_item("Saved in the admin"))


def test_the_page_calls_a_django_procedure(open_page):
    page = open_page()
    page.fill("#greet-name", "Ann")
    page.click("#greet-form button")
    page.wait_for_selector('#greet-result:has-text("Hello Ann")')
    assert page.text_content("#greet-result") == "Hello Ann, from Django! You are anonymous."


def test_a_signed_in_page_shows_private_notifications(open_page, django_user_model):
    ann = django_user_model.objects.create_user("ann", password="pw")
    bob = django_user_model.objects.create_user("bob", password="pw")
    ann_page = open_page(login=("ann", "pw"))
    bob_page = open_page(login=("bob", "pw"))
    assert ann_page.evaluate("document.body.dataset.authrole") == "user"
    Note.objects.create(title="Ann's note", owner=ann)
    ann_page.wait_for_selector('#notifications li:has-text("Your note “Ann\'s note” was created.")')
    ann_page.click("#ping")
    ann_page.wait_for_selector('#notifications li:has-text("Django got your ping.")')
    # Bob's page got the public note but none of Ann's notifications.
    bob_page.wait_for_selector(note_item("Ann's note"))
    Note.objects.create(title="Bob's note", owner=bob)
    bob_page.wait_for_selector('#notifications li:has-text("Bob\'s note")')
    assert bob_page.locator("#notifications li").all_text_contents() == ["Your note “Bob's note” was created."]
    bob_page.click("#greet-form button")
    bob_page.wait_for_selector('#greet-result:has-text("You are bob.")')


def test_pages_reconnect_with_a_fresh_ticket_or_anonymously_once_signed_out(open_page, django_user_model, hub_settings):
    ann = django_user_model.objects.create_user("ann", password="pw")
    django_user_model.objects.create_user("bob", password="pw")
    page = open_page(login=("ann", "pw"))
    gone = open_page(login=("bob", "pw"))
    tickets = []
    page.on("request", lambda request: tickets.append(request.url) if "/switchboard/ticket/" in request.url else None)
    gone.context.clear_cookies()  # bob signs out elsewhere: his next ticket request gets {"ticket": null}
    hub_settings.restart()
    wait_for_hub(hub_settings)
    page.wait_for_selector('#status[data-state="online"]', timeout=60_000)
    gone.wait_for_selector('#status[data-state="online"]', timeout=60_000)
    assert len(tickets) >= 1  # a new ticket for the new session (the first one was used up)
    assert page.evaluate("document.body.dataset.authrole") == "user"
    assert gone.evaluate("document.body.dataset.authrole") == "anonymous"
    Note.objects.create(title="After the restart", owner=ann)  # subscriptions were made again
    page.wait_for_selector('#notifications li:has-text("After the restart")')
    page.wait_for_selector(note_item("After the restart"))
    gone.wait_for_selector(note_item("After the restart"))
