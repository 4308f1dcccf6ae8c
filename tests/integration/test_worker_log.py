"""A real hub's log shows no line per session at info (router/patches/workerlog.py); at debug it
shows each session joining and leaving, once each, and Crossbar's per-connection chatter."""

from switchboard.router.patches.workerlog import CHATTER
from switchboard.router.testing.hub import Hub, wait_until

#: what Crossbar's chatter reads like in the log, one per record of CHATTER
CHATTER_TEXT = ("cookie tracking disabled on WebSocket connection", "PendingAuthAnonymous.hello>(realm=")


def test_info_shows_no_line_per_session(switchboard_hub):
    with switchboard_hub.client() as browser:
        session = browser.session_id
        assert browser.call("demo.add2", 1, 2) == 3
    with switchboard_hub.client() as after:  # the first session's lines, if any, were written before this one
        assert after.call("demo.add2", 1, 2) == 3
    text = switchboard_hub.log_text()
    assert f"session={session}" not in text
    assert not [line for line in text.splitlines() if any(t in line for t in CHATTER_TEXT)]


def test_debug_shows_a_session_join_and_leave_and_the_chatter(tmp_path):
    with Hub.started(tmp_path, with_components=False, loglevel="debug") as hub:
        with hub.client() as browser:
            session = browser.session_id
        wait_until(lambda: f"(session={session}," in hub.log_text(), what="the detach line")
        wait_until(lambda: all(t in hub.log_text() for t in CHATTER_TEXT), what="Crossbar's connection chatter")
        lines = [line for line in hub.log_text().splitlines() if f"session={session}" in line]
    assert ["new session attached" in line for line in lines] == [True, False], lines
    assert "router session detached" in lines[1]
    assert len(CHATTER_TEXT) == len(CHATTER) - 1  # the cookie-based authentication line needs cookie auth
