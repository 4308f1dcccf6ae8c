"""A blocking WAMP client: plain synchronous code (tests, scripts, readiness checks) talks to the hub.

It runs one Autobahn asyncio session on a private event loop in a daemon thread and exposes
call/publish/subscribe/register as ordinary blocking methods, the way Django Channels' testing
communicators let synchronous tests drive a consumer.  Events arrive in a queue per subscription, so
a test waits on the event itself (with a timeout), never on a sleep.
"""

from __future__ import annotations

import asyncio
import queue
import ssl as ssl_module
import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence
from urllib.parse import urlparse

import txaio

txaio.use_asyncio()

from autobahn.asyncio.rawsocket import WampRawSocketClientFactory  # noqa: E402
from autobahn.asyncio.wamp import ApplicationSession  # noqa: E402
from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.wamp import auth  # noqa: E402
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer  # noqa: E402
from autobahn.wamp.types import CallOptions, ComponentConfig, PublishOptions, RegisterOptions, SubscribeOptions  # noqa: E402
from switchboard.bridge.netloc import url_host  # noqa: E402

SERIALIZERS = {"json": JsonSerializer, "msgpack": MsgPackSerializer, "cbor": CBORSerializer}
DEFAULT_TIMEOUT = 10.0


class JoinError(Exception):
    """The router refused the session; `reason` is the abort URI (e.g. wamp.error.not_authorized)."""

    def __init__(self, reason: str, message: str | None = None):
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Event:
    args: tuple
    kwargs: dict
    topic: str | None
    publisher: int | None
    retained: bool
    #: the router's id of the publication (history.get gives it too)
    publication: int | None = None


class Subscription:
    """Events of one subscription, in arrival order."""

    def __init__(self, client: "Client", topic: str):
        self.topic = topic
        self.events: queue.Queue[Event] = queue.Queue()
        self._client = client
        self._handle = None

    def get(self, timeout: float = DEFAULT_TIMEOUT) -> Event:
        """The next event; raises TimeoutError when none arrives within `timeout` seconds."""
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no event on {self.topic!r} within {timeout}s") from None

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = DEFAULT_TIMEOUT) -> Event:
        """Skip events until one satisfies `predicate`; raises TimeoutError past `timeout` in all."""
        loop = self._client._loop
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no matching event on {self.topic!r} within {timeout}s")
            event = self.get(remaining)
            if predicate(event):
                return event

    def unsubscribe(self) -> None:
        self._client._invoke(self._handle.unsubscribe)


class _Session(ApplicationSession):
    def __init__(self, config, authid, secret, authmethods):
        super().__init__(config)
        self._authid, self._secret, self._authmethods = authid, secret, authmethods
        self.joined = asyncio.get_event_loop().create_future()
        self.closed = asyncio.get_event_loop().create_future()

    def onConnect(self):
        self.join(self.config.realm, authmethods=self._authmethods, authid=self._authid)

    def onChallenge(self, challenge):
        if challenge.method == "wampcra":
            return auth.compute_wcs(self._secret, challenge.extra["challenge"])
        if challenge.method == "ticket":
            return self._secret
        raise Exception(f"cannot answer {challenge.method} challenge")

    def onJoin(self, details):
        if not self.joined.done():
            self.joined.set_result(details)

    def onLeave(self, details):
        if not self.joined.done():
            self.joined.set_exception(JoinError(details.reason, details.message))
        self.disconnect()

    def onDisconnect(self):
        if not self.joined.done():
            self.joined.set_exception(ConnectionError("transport closed before the session joined"))
        if not self.closed.done():
            self.closed.set_result(None)


class Client:
    """A blocking WAMP session.

    `url` is ws://host:port/path (WebSocket) or rs://host:port (RawSocket), or a list of them (a
    cluster's nodes): the first that accepts the connection is used, `self.url`. Pass `authid` and
    `secret` to authenticate with WAMP-CRA (or `ticket` to use ticket auth); otherwise the session
    is anonymous.  A wss:// URL verifies the hub's certificate against the system's trust store, or
    against `ssl` (an ssl.SSLContext, e.g. one trusting a self-signed certificate); `source_address`
    binds the local end (a test's second client address, e.g. 127.0.0.2).  Use as a context
    manager or call close().
    """

    def __init__(
        self,
        url: str | Sequence[str],
        realm: str,
        *,
        authid: str | None = None,
        secret: str | None = None,
        ticket: str | None = None,
        serializer: str = "json",
        timeout: float = DEFAULT_TIMEOUT,
        ssl: ssl_module.SSLContext | None = None,
        source_address: str | None = None,
    ):
        self.urls = [url] if isinstance(url, str) else list(url)
        if not self.urls:
            raise ValueError("no URL to connect to")
        self.url, self.realm, self.timeout = self.urls[0], realm, timeout
        self._ssl, self._source = ssl, source_address
        if ticket is not None:
            authmethods, secret = ["ticket"], ticket
        elif secret is not None:
            authmethods = ["wampcra"]
        else:
            authmethods = ["anonymous"]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"wamp-client {self.url}", daemon=True)
        self._thread.start()
        try:
            self.session: _Session = self._run(self._connect_any(serializer, authid, secret, authmethods))
            self.details = self._run(asyncio.wait_for(asyncio.shield(self.session.joined), timeout))
        except BaseException:
            self._stop_loop()
            raise

    async def _connect_any(self, serializer, authid, secret, authmethods):
        """Connect to the first of self.urls that accepts (a node that is down refuses at once)."""
        for i, url in enumerate(self.urls):
            self.url = url
            try:
                return await self._connect(serializer, authid, secret, authmethods)
            except (OSError, asyncio.TimeoutError):
                if i == len(self.urls) - 1:
                    raise

    async def _connect(self, serializer, authid, secret, authmethods):
        session = _Session(ComponentConfig(realm=self.realm), authid, secret, authmethods)
        parsed = urlparse(self.url)
        ser = SERIALIZERS[serializer]()
        if parsed.scheme in ("ws", "wss"):
            factory = WampWebSocketClientFactory(lambda: session, url=self.url, serializers=[ser])
            factory.host = url_host(factory.host)  # the Host header's: [::1], not ::1 (RFC 7230 section 5.4)
            default_port = 443 if parsed.scheme == "wss" else 80
        elif parsed.scheme == "rs":
            factory = WampRawSocketClientFactory(lambda: session, serializer=ser)
            default_port = 80
        else:
            raise ValueError(f"unsupported URL scheme in {self.url!r} (use ws://, wss:// or rs://)")
        await asyncio.wait_for(
            self._loop.create_connection(
                factory,
                parsed.hostname,
                parsed.port or default_port,
                ssl=(self._ssl or True) if parsed.scheme == "wss" else None,
                local_addr=(self._source, 0) if self._source else None,
            ),
            self.timeout,
        )
        return session

    def _run(self, coro, timeout: float | None = None):
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=(timeout or self.timeout) + 5)

    def _invoke(self, method, *args, timeout: float | None = None, **kwargs):
        """Run session.method(*args, **kwargs) on the loop thread and wait for its result."""
        timeout = timeout or self.timeout

        async def invoke():
            return await asyncio.wait_for(method(*args, **kwargs), timeout)

        return self._run(invoke(), timeout)

    @property
    def session_id(self) -> int:
        return self.details.session

    @property
    def is_connected(self) -> bool:
        return not self.session.closed.done()

    def call(
        self,
        procedure: str,
        *args: Any,
        timeout: float | None = None,
        on_progress: Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call and return the result; WAMP errors raise autobahn's ApplicationError. With `on_progress`
        the call asks for progressive results, and each one calls it (with its args and kwargs, on
        the client's loop thread) before the result returns."""
        if on_progress is not None:
            kwargs["options"] = CallOptions(on_progress=on_progress)
        return self._invoke(self.session.call, procedure, *args, timeout=timeout, **kwargs)

    def call_many(self, calls: list[tuple[str, tuple]], timeout: float | None = None) -> list[Any]:
        """Several calls (procedure, args) sent at once and answered in any order, so a batch takes
        one round trip: each one's result, or the exception it failed with, in the order given."""
        timeout = timeout or self.timeout

        async def invoke_all():
            pending = (asyncio.wait_for(self.session.call(p, *args), timeout) for p, args in calls)
            return await asyncio.gather(*pending, return_exceptions=True)

        return self._run(invoke_all(), timeout)

    def publish(self, topic: str, *args: Any, acknowledge: bool = True, **options_and_kwargs: Any) -> None:
        """Publish; with acknowledge=True (default) a denial raises ApplicationError.

        Keyword arguments named like PublishOptions fields (retain, exclude_me, ...) are options;
        the rest are the event's kwargs.
        """
        option_names = {"retain", "exclude_me", "exclude", "eligible", "exclude_authid", "eligible_authid"}
        options = {k: options_and_kwargs.pop(k) for k in list(options_and_kwargs) if k in option_names}
        opts = PublishOptions(acknowledge=acknowledge, **options)
        publish = self.session.publish
        if not acknowledge:  # nothing comes back to wait for: sent once the loop has run it

            async def publish(*a, **kw):
                self.session.publish(*a, **kw)

        self._invoke(publish, topic, *args, options=opts, **options_and_kwargs)

    def subscribe(self, topic: str, *, match: str | None = None, get_retained: bool | None = None) -> Subscription:
        sub = Subscription(self, topic)

        def on_event(*args, details=None, **kwargs):
            sub.events.put(
                Event(args, kwargs, details.topic, details.publisher, bool(details.retained), details.publication)
            )

        opts = SubscribeOptions(match=match, get_retained=get_retained, details_arg="details")
        sub._handle = self._invoke(self.session.subscribe, on_event, topic, options=opts)
        return sub

    def register(self, procedure: str, endpoint: Callable[..., Any], *, details: bool = False) -> None:
        """`details=True` calls `endpoint` with details= (autobahn's CallDetails: the caller, when disclosed)."""
        options = RegisterOptions(details_arg="details") if details else None
        self._invoke(self.session.register, endpoint, procedure, options=options)

    def wait_closed(self, timeout: float | None = None) -> None:
        """Block until the router closes this session (or raise TimeoutError)."""
        self._invoke(lambda: asyncio.shield(self.session.closed), timeout=timeout)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            if self.is_connected:

                async def leave():
                    if self.session.is_attached():
                        self.session.leave()
                    await asyncio.wait_for(asyncio.shield(self.session.closed), 5)

                self._run(leave(), 5)
        except Exception:
            pass
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
