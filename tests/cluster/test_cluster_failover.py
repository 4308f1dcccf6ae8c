"""A page on a cluster node that is killed (-9) moves to another node, keeps chatting there and shows
what was posted while it moved; the other nodes serve each other throughout. Real Chromium, a
3-node cluster of this test's own (it kills one)."""

import contextlib

import pytest
from playwright.sync_api import expect
from switchboard.router import settings as S
from switchboard.router.client import Client
from switchboard.router.testing.cluster import Cluster

pytestmark = pytest.mark.browser

ROOM = "failover"


@contextlib.contextmanager
def cluster_with_failover(workdir, nodes=3):
    """A cluster whose pages get every node's WebSocket URL (/info's ws_urls), as `cluster up` sets it."""
    cluster = Cluster(workdir, nodes)
    urls = ",".join(hub.url for hub in cluster.hubs)
    for hub in cluster.hubs:
        hub.node.extra_env[S.ENV_WS_URLS] = urls
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def enter(page, room, nick):
    page.fill("#room", room)
    page.fill("#nick", nick)
    page.click("#room-form button")
    expect(page.locator("body")).to_have_attribute("data-room", room)


def texts(page):
    return page.locator("#messages li .text")


def test_a_page_whose_node_is_killed_moves_to_another_node_and_gets_what_it_missed(tmp_path, new_page):
    with cluster_with_failover(tmp_path) as cluster:
        x, y, z = cluster.hubs
        page = new_page(x.http_url)
        expect(page.locator("body")).to_have_attribute("data-url", x.url)  # its own node first
        enter(page, ROOM, "pat")
        with y.client() as on_y, z.client() as on_z, y.backend_client() as pub_y, z.backend_client() as pub_z:
            chat_on_z = on_z.subscribe(f"chat.room.{ROOM}")
            between = on_y.subscribe("public.between"), on_z.subscribe("public.between")
            on_z.call("chat.post", ROOM, "before the kill", "sam")
            expect(texts(page)).to_have_text(["before the kill"])
            assert chat_on_z.get(timeout=10).args[0]["text"] == "before the kill"

            page.outage.start(cut=False)  # the page's socket stays until its node dies; its retries are held off
            x.kill()
            expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting", timeout=15_000)

            # while the page is away, the other nodes serve each other, and two messages are posted
            pub_z.publish("public.between", "z to y, during")
            pub_y.publish("public.between", "y to z, during")
            for sub in between:  # each hears the other node's event and its own node's
                assert {sub.get(timeout=10).args[0] for _ in range(2)} == {"z to y, during", "y to z, during"}
            # a Python client given every node's URL connects to the first one alive
            with Client([x.url, z.url, y.url], x.realm) as listed:
                assert listed.url == z.url and listed.call("demo.add2", 2, 3) == 5
            missed = {y.url: "missed, posted on y", z.url: "missed, posted on z"}
            on_y.call("chat.post", ROOM, missed[y.url], "sam")
            on_z.call("chat.post", ROOM, missed[z.url], "sam")
            # (z may hear its own before y's relayed one)
            assert {chat_on_z.get(timeout=10).args[0]["text"] for _ in range(2)} == set(missed.values())

            page.outage.end()
            expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=30_000)
            landed = page.locator("body").get_attribute("data-url")
            assert landed in (y.url, z.url), f"the page joined {landed}, not another live node"
            # recovered: what was posted while it moved, through either node ...
            for text in missed.values():
                expect(texts(page).filter(has_text=text)).to_have_count(1, timeout=15_000)

            # ... and it keeps working there: posts and receives through its new node
            page.fill("#text", "pat, from the new node")
            page.press("#text", "Enter")
            assert chat_on_z.get(timeout=10).args[0]["text"] == "pat, from the new node"
            on_y.call("chat.post", ROOM, "after the move", "sam")
            expect(texts(page).filter(has_text="after the move")).to_have_count(1, timeout=15_000)

            # the two nodes still serve each other after the kill
            pub_y.publish("public.between", "y to z, after")
            pub_z.publish("public.between", "z to y, after")
            for sub in between:
                assert {sub.get(timeout=10).args[0] for _ in range(2)} == {"z to y, after", "y to z, after"}

            # every missed message, the other node's too, once: the node it joined has the room's
            # history (in order of delivery there: y's and z's may come either way round)
            shown = texts(page).all_text_contents()
            assert len(shown) == 5 and shown[0] == "before the kill", shown
            assert set(shown[1:3]) == set(missed.values()), shown
            assert shown[3:] == ["pat, from the new node", "after the move"], shown
