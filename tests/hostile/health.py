"""The hub's health between batches of hostile examples: the router process is the one the module
started with, a sentinel session still gets answers, no traceback was logged since the batch began,
and the router's memory came back once the batch's connections were closed.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import psutil
from hypothesis import HealthCheck, given, seed, settings
from switchboard.router.client import Client
from switchboard.router.node.process import worker_id_of
from switchboard.router.testing.hub import Hub, wait_until

#: examples per test; `make fuzz` sets it large. The default keeps tests/hostile at about two minutes.
EXAMPLES = int(os.environ.get("SWITCHBOARD_FUZZ_EXAMPLES", "60"))
#: examples between health checks (a check costs a call, a log read and an RSS poll)
BATCH = int(os.environ.get("SWITCHBOARD_FUZZ_BATCH", "50"))
#: set to an integer for reproducible runs: batch i of a test then runs with seed SEED + i
SEED = os.environ.get("SWITCHBOARD_FUZZ_SEED")

#: RSS the router may keep after a batch, over what it had before it. Generous on purpose: CPython's
#: allocator keeps freed arenas and glibc keeps freed heap, so RSS only comes back partly and in steps;
#: a batch's hostile messages are up to 1 MiB each and several may be held at once while decoded;
#: and this 2-core VM is shared with other test runs. A leak of a connection's state shows as growth
#: batch after batch, which the module-wide bound below catches.
BATCH_RSS_GROWTH = 50 * 1024 * 1024
#: RSS the router may gain over a whole module (every batch of every test): bounded caches fill as
#: the fuzz runs (bridge event ids, used nonces, history topics and SQLite pages) and the allocator
#: keeps its high-water mark, so this is loose; a real per-connection leak over `make fuzz`'s
#: thousands of connections passes it.
MODULE_RSS_GROWTH = 200 * 1024 * 1024
#: how long the router's memory may take to come back after a batch (nothing else is waited for:
#: it is polled, and the check passes as soon as RSS is in bound)
RSS_SETTLE_TIMEOUT = 30.0

#: environment of a fuzzed hub. One address (the test) opens a connection per example, faster than
#: the per-address connect rate lets any one client: those limits have their own tests. Cyclic
#: garbage is collected as usual (SWITCHBOARD_GC_FULL_EVERY=0 freezes only the startup heap): with
#: the default, a closed connection's cycles wait up to 300 s for the next full pass, which would
#: read as a leak here.
FUZZ_ENV = {
    "SWITCHBOARD_CONNECTS_PER_SECOND_PER_IP": "0",
    "SWITCHBOARD_CONNECTIONS_PER_IP": "0",
    "SWITCHBOARD_GC_FULL_EVERY": "0",
}


def router_pid(hub: Hub) -> int:
    """PID of the router worker: the node's child running crossbar.worker.main with `--worker router`.

    Workers retitle themselves (switchboard.router.node.process.WORKER_TITLE, `switchboard-worker router`, as `ps`
    shows it), so the title is recognised too."""
    node = psutil.Process(hub.node.process.pid)
    for child in node.children():
        try:
            cmdline = child.cmdline()
        except psutil.Error:
            continue
        if "crossbar.worker.main" in cmdline and "--worker" in cmdline:
            at = cmdline.index("--worker")
            if cmdline[at + 1 : at + 2] == ["router"]:
                return child.pid
        elif worker_id_of(cmdline) == "router":
            return child.pid
    raise LookupError(f"no router worker among the children of node {node.pid}")


class Watch:
    """Health of one hub across a module's batches. `begin()` before a batch, `check()` after it."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.pid = router_pid(hub)
        self.process = psutil.Process(self.pid)
        self.sentinel = Client(hub.url, hub.realm)
        assert self.sentinel.call("demo.add2", 2, 3) == 5
        self.baseline_rss = self.rss()
        self.rss_before = self.baseline_rss
        self.log_mark = len(hub.log_text())

    def rss(self) -> int:
        return self.process.memory_info().rss

    def begin(self) -> None:
        self.rss_before = self.rss()

    def check(self, what: str) -> None:
        """Assert the hub is healthy after `what` (a description of the batch for the message)."""
        assert self.hub.node.running, f"the node exited after {what}"
        try:
            pid = router_pid(self.hub)
        except (LookupError, psutil.Error):
            pid = None
        assert pid == self.pid, f"the router worker {self.pid} is gone (now {pid}) after {what}"
        assert self.sentinel.call("demo.add2", 2, 3, timeout=10) == 5, f"the sentinel got a wrong answer after {what}"
        text = self.hub.log_text()
        new, self.log_mark = text[self.log_mark :], len(text)
        if "Traceback" in new:
            at = new.index("Traceback")
            raise AssertionError(f"a traceback was logged during {what}:\n{new[max(0, at - 1500) : at + 3000]}")
        bound = min(self.rss_before + BATCH_RSS_GROWTH, self.baseline_rss + MODULE_RSS_GROWTH)
        try:
            wait_until(lambda: self.rss() <= bound, timeout=RSS_SETTLE_TIMEOUT, what="router RSS back in bound")
        except TimeoutError:
            mib = 1024 * 1024
            raise AssertionError(
                f"router RSS {self.rss() / mib:.0f} MiB after {what}: before the batch "
                f"{self.rss_before / mib:.0f} MiB, at module start {self.baseline_rss / mib:.0f} "
                f"MiB (bound {bound / mib:.0f} MiB)"
            ) from None

    def close(self) -> None:
        self.sentinel.close()


@contextmanager
def fuzzed_hub(workdir, **kwargs):
    """A hub for one module, with its Watch; after the module, the log the node wrote while
    stopping is checked for tracebacks too (records still in flight at the last check land there)."""
    env = {**FUZZ_ENV, **kwargs.pop("env", {})}
    with Hub.started(workdir, env=env, **kwargs) as hub:
        watch = Watch(hub)
        try:
            yield hub, watch
        finally:
            watch.close()
    tail = hub.log_path.read_text(encoding="utf-8", errors="replace")[watch.log_mark :]
    if "Traceback" in tail:
        at = tail.index("Traceback")
        excerpt = tail[max(0, at - 1500) : at + 3000]
        raise AssertionError(f"a traceback was logged after the module's last check:\n{excerpt}")


def fuzz(watch: Watch, strategy, run_one, name: str, examples: int | None = None) -> None:
    """Run `run_one(case)` for `examples` cases drawn from `strategy`, in batches of BATCH, with
    `watch.check()` after each batch. A case's own failure is shrunk by hypothesis as usual; a failed
    health check names the batch (the cases are printed by pytest's captured output)."""
    examples = EXAMPLES if examples is None else examples
    done, index = 0, 0
    while done < examples:
        n = min(BATCH, examples - done)

        @settings(
            max_examples=n,
            deadline=None,
            database=None,
            print_blob=True,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
                HealthCheck.large_base_example,
            ],
        )
        @given(strategy)
        def batch(case):
            run_one(case)

        if SEED is not None:
            batch = seed(int(SEED) + index)(batch)
        watch.begin()
        batch()
        done += n
        index += 1
        watch.check(f"{name}, batch {index} ({done} examples so far)")
