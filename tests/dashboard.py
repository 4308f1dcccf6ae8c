"""Driving the admin dashboard (web/admin.html) in Chromium: sign in, and watch it follow a subscriber
and the events published to it. Shared by tests/browser/test_admin.py (the hub straight) and
tests/integration/test_nginx_deploy.py (the hub behind nginx, over https and wss)."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

#: the table's "since" column: a UTC time to the second
SINCE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def sign_in(page, secret: str) -> None:
    page.fill("#secret", secret)
    page.click("#signin-form button")


def signed_in_with_the_secret(page, secret: str) -> None:
    """Sign in with the admin secret and wait until the dashboard is online as `admin`."""
    sign_in(page, secret)
    expect(page.locator("#status")).to_have_attribute("data-state", "online")
    expect(page.locator("#whoami")).to_contain_text("admin")


def nonzero(locator) -> bool:
    return bool(re.fullmatch(r"0*[1-9][\d.]*|0\.\d*[1-9]\d*", locator.text_content() or ""))


def publish_until(publisher, topic, condition, timeout: float = 20.0) -> None:
    """Publish to `topic` (each publish acknowledged: that paces it) until `condition()` holds; the
    dashboard's rates come from two polls a second apart, so the events must keep coming."""
    deadline, i = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        publisher.publish(topic, i)
        i += 1
        if i % 10 == 0 and condition():
            return
    raise TimeoutError(f"the dashboard showed no rate after {i} publishes to {topic}")


def chart_has_a_point_above_zero(page, chart: str) -> bool:
    return page.evaluate(
        "name => window.dashboard.charts[name].data.slice(1).some(column => column.some(v => v > 0))", chart
    )


def follows_a_subscriber(page, reader, publisher, topic: str, peer) -> None:
    """The signed-in dashboard `page` lists `reader` (an anonymous WebSocket session subscribing to
    `topic` here) with its transport's `peer` (a string or a pattern), counts it as the topic's
    subscriber, and while `publisher` publishes to the topic shows deliveries/s and the topic's
    events/s above 0 and draws them in its deliveries and messages charts."""
    reader.subscribe(topic)
    row = page.locator(f'#sessions tr[data-session="{reader.session_id}"]')
    expect(row.locator(".role")).to_have_text("anonymous")
    expect(row.locator(".transport")).to_contain_text("websocket")
    expect(row.locator(".peer")).to_have_text(peer)
    expect(row.locator(".since")).to_have_text(SINCE)
    subscription = page.locator(f'#topics tr[data-uri="{topic}"]')
    expect(subscription.locator(".subscribers")).to_have_text("1")
    deliveries, rate = page.locator("#now-deliveries"), subscription.locator(".rate")
    publish_until(publisher, topic, lambda: nonzero(deliveries) and nonzero(rate))
    assert chart_has_a_point_above_zero(page, "deliveries")
    assert chart_has_a_point_above_zero(page, "messages")
