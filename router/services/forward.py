"""A path of a proxy worker's web transport forwarded to the router's own web transport on loopback
(router/node/layout.py): the HTTP bridge, /health, /ready and /metrics live in the router process,
next to the sessions they serve or count. Twisted's reverse proxy does the forwarding; the client's
address goes along as X-Forwarded-For."""

from __future__ import annotations

from twisted.web.proxy import ReverseProxyResource

ROUTER_HOST = "127.0.0.1"


class Forward(ReverseProxyResource):
    """Twisted's ReverseProxyResource, adding the client's address to X-Forwarded-For."""

    def getChild(self, path, request):
        child = super().getChild(path, request)
        return Forward(child.host, child.port, child.path, child.reactor)

    def render(self, request):
        client = request.getClientAddress()
        host = getattr(client, "host", None)
        if host:
            before = request.requestHeaders.getRawHeaders(b"x-forwarded-for") or []
            request.requestHeaders.setRawHeaders(b"x-forwarded-for", [b", ".join([*before, host.encode()])])
        return super().render(request)


def create(extra: dict):
    """Crossbar `resource` path service factory: extra {"port": router's web port, "path": name}."""
    return Forward(ROUTER_HOST, int(extra["port"]), b"/" + str(extra["path"]).encode())
