"""A path of a proxy worker's web transport forwarded to the router's own web transport on loopback
(router/node/layout.py): the HTTP bridge, /health, /ready and /metrics live in the router process,
next to the sessions they serve or count. Twisted's reverse proxy does the forwarding; the client's
address goes along as X-Forwarded-For, except to /metrics: there a forwarded client counts as one from
beyond loopback (router/services/metrics.py), and a proxy worker is the hub's own listener, on the
interface whose loopback-or-not /metrics already goes by. Headers a proxy in front of the proxy
workers wrote (nginx's X-Forwarded-For) go along to every path as they came."""

from __future__ import annotations

from twisted.web.proxy import ReverseProxyResource

ROUTER_HOST = "127.0.0.1"


class Forward(ReverseProxyResource):
    """Twisted's ReverseProxyResource, adding the client's address to X-Forwarded-For unless told not to."""

    def __init__(self, *args, name_client: bool = True):
        super().__init__(*args)  # host, port, path[, reactor]
        self.name_client = name_client

    def getChild(self, path, request):
        child = super().getChild(path, request)
        return Forward(child.host, child.port, child.path, child.reactor, name_client=self.name_client)

    def render(self, request):
        client = request.getClientAddress()
        host = getattr(client, "host", None)
        if host and self.name_client:
            before = request.requestHeaders.getRawHeaders(b"x-forwarded-for") or []
            request.requestHeaders.setRawHeaders(b"x-forwarded-for", [b", ".join([*before, host.encode()])])
        return super().render(request)


def create(extra: dict):
    """Crossbar `resource` path service factory: extra {"port": router's web port, "path": name, and
    "name_client": false to forward without adding the client to X-Forwarded-For}."""
    path = str(extra["path"])
    return Forward(
        ROUTER_HOST, int(extra["port"]), b"/" + path.encode(), name_client=bool(extra.get("name_client", True))
    )
