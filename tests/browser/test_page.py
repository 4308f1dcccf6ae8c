"""The demo page in real Chromium against a real hub."""

import re

import pytest
from playwright.sync_api import expect
from switchboard.router.testing.hub import Hub

pytestmark = pytest.mark.browser


def enter(page, room, nick):
    page.fill("#room", room)
    page.fill("#nick", nick)
    page.click("#room-form button")
    expect(page.locator("body")).to_have_attribute("data-room", room)


def say(page, text):
    page.fill("#text", text)
    page.press("#text", "Enter")


def presence_names(page):
    return page.locator("#presence li")


def test_two_pages_chat_and_see_each_other(switchboard_hub, new_page):
    ann = new_page(switchboard_hub.http_url)
    bob = new_page(switchboard_hub.http_url)
    enter(ann, "browser-room", "ann")
    enter(bob, "browser-room", "bob")

    expect(presence_names(ann)).to_have_text(["ann", "bob"])
    expect(presence_names(bob)).to_have_text(["ann", "bob"])

    say(ann, "hello from ann")
    expect(bob.locator("#messages li .text")).to_have_text(["hello from ann"])
    expect(ann.locator("#text")).to_have_value("")

    bob.context.close()
    expect(presence_names(ann)).to_have_text(["ann"])


def test_bad_input_shows_the_error_uri(switchboard_hub, new_page):
    page = new_page(switchboard_hub.http_url)
    say(page, "   ")
    expect(page.locator("#chat-error")).to_contain_text("switchboard.error.invalid_text")


def test_clock_advances(switchboard_hub, new_page):
    page = new_page(switchboard_hub.http_url)
    clock = page.locator("#clock")
    expect(clock).to_have_text(re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"))
    first = clock.text_content()
    expect(clock).not_to_have_text(first)


def test_add2_form(switchboard_hub, new_page):
    page = new_page(switchboard_hub.http_url)
    page.fill("#add2-a", "40")
    page.fill("#add2-b", "2")
    page.click("#add2-form button")
    expect(page.locator("#add2-result")).to_have_text("42")


def test_page_reconnects_after_hub_restart_and_chat_works(tmp_path, new_page):
    with Hub.started(tmp_path) as hub:
        page = new_page(hub.http_url)
        other = new_page(hub.http_url)
        enter(page, "restart-room", "pat")
        enter(other, "restart-room", "sam")
        say(other, "before the restart")
        expect(message_texts(page)).to_have_text(["before the restart"])
        hub.stop()
        for p in (page, other):
            expect(p.locator("#status")).to_have_attribute("data-state", "reconnecting")
        page.outage.start()  # this page stays away while the others talk
        hub.start()
        expect(other.locator("#status")).to_have_attribute("data-state", "online", timeout=30_000)
        say(other, "said while pat was away")
        page.outage.end()
        expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=30_000)
        expect(presence_names(page)).to_have_text(["pat", "sam"])
        expect(message_texts(page)).to_have_text(["before the restart", "said while pat was away"])
        say(other, "still here after the restart")
        expect(message_texts(page)).to_have_text(
            ["before the restart", "said while pat was away", "still here after the restart"]
        )
        newcomer = new_page(hub.http_url)  # history survived the restart: a new page sees it all
        enter(newcomer, "restart-room", "neo")
        expect(message_texts(newcomer)).to_have_text(
            ["before the restart", "said while pat was away", "still here after the restart"]
        )


def message_texts(page):
    return page.locator("#messages li .text")


def test_a_room_opens_with_its_recent_history(switchboard_hub, new_page):
    with switchboard_hub.client() as c:
        for text in ("first", "second", "third"):
            c.call("chat.post", "history-open", text, "ann")
    page = new_page(switchboard_hub.http_url)
    enter(page, "history-open", "reader")
    expect(message_texts(page)).to_have_text(["first", "second", "third"])


def test_a_page_that_was_offline_gets_every_missed_message_once_in_order(switchboard_hub, new_page):
    page = new_page(switchboard_hub.http_url)
    enter(page, "offline-room", "olly")
    with switchboard_hub.client() as sender:
        sender.call("chat.post", "offline-room", "before", "sam")
        expect(message_texts(page)).to_have_text(["before"])
        page.outage.start()
        expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
        missed = [f"missed {i}" for i in range(5)]
        for text in missed:
            sender.call("chat.post", "offline-room", text, "sam")
        page.outage.end()
        expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=30_000)
        expect(message_texts(page)).to_have_text(["before", *missed])
        sender.call("chat.post", "offline-room", "live again", "sam")
        expect(message_texts(page)).to_have_text(["before", *missed, "live again"])


def test_the_page_speaks_msgpack_to_the_hub(switchboard_hub, new_page):
    """switchboard.js offers msgpack first (the router decodes it in C, Autobahn's JSON partly in pure
    Python: docs/benchmarks.md) and the router takes it."""
    page = new_page(switchboard_hub.http_url)
    expect(page.locator("body")).to_have_attribute("data-session", re.compile(r"^\d+$"))
    session_id = int(page.locator("body").get_attribute("data-session"))
    with switchboard_hub.backend_client() as backend:
        details = backend.call("wamp.session.get", session_id)
    assert details["transport"]["websocket_protocol"] == "wamp.2.msgpack"
