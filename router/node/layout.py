"""The proxy layout (SWITCHBOARD_PROXY_WORKERS): N Crossbar proxy workers share the public port in
front of the router, so WebSocket framing, TLS and (de)serialization of browser sessions spread over
cores.

Each proxy serves what the router's web transport served on that port: the page and /info itself,
/ws with the same serializers, options and sign-in (anonymous and ticket), each session forwarded to
the router over a Unix socket with anonymous-proxy auth (the router trusts the identity the proxy
established; Crossbar allows that only over a Unix socket), and the router's HTTP services (/bridge,
/health, /ready, /metrics) forwarded to the router's web transport, which moves to a private
loopback port. Backend components keep their RawSocket transport straight to the router. Pure: it
changes a config dict (router/node/process.py, render_config, calls it last).
"""

from __future__ import annotations

import copy

from switchboard.router import settings as S

#: the router's transport for its proxies: a Unix socket in the node directory (Crossbar resolves it
#: against the node directory, where its workers run)
PROXY_SOCKET = "router.sock"
PROXY_TRANSPORT_ID = "proxied"
#: the connection name in each proxy's config
ROUTER_CONNECTION = "router"
#: path services a proxy serves itself, as the router's config gives them
SERVED_BY_PROXY = ("static", "json", "websocket")
#: what forwards one HTTP path to the router's private web transport (a Twisted reverse proxy)
FORWARD_CLASS = "switchboard.router.services.forward.create"


def with_proxies(config: dict, count: int, router_port: int) -> None:
    """`count` proxy workers on the web transport's endpoint (shared), the router's web transport on
    127.0.0.1:`router_port`."""
    if count < 1:
        return
    router = S.router_worker(config)
    realm = S.realm_name(config)
    roles = [role["name"] for role in router["realms"][0]["roles"]]
    web = S.transport(config, S.WEB_TRANSPORT_ID)
    public = dict(web["endpoint"], shared=True)
    # plain HTTP on loopback: the proxies terminate TLS (the endpoint's "tls", render_config's)
    private = {key: value for key, value in web["endpoint"].items() if key != "tls"}
    web["endpoint"] = dict(private, interface="127.0.0.1", port=router_port)
    backlog = web["endpoint"].get("backlog", 50)
    router["transports"].append(
        {
            "id": PROXY_TRANSPORT_ID,
            "type": "rawsocket",
            "endpoint": {"type": "unix", "path": PROXY_SOCKET, "backlog": backlog},
            "serializers": ["msgpack"],
            "auth": {"anonymous-proxy": {"type": "static"}},
            "options": dict(S.transport(config, S.BACKEND_TRANSPORT_ID).get("options", {})),
        }
    )
    paths = {name: _proxied(service, name, router_port, realm) for name, service in web["paths"].items()}
    # Crossbar starts workers in order: the proxies right after the router, so they listen before the
    # components register (readiness waits for those)
    at = config["workers"].index(router) + 1
    for i in range(count):
        config["workers"].insert(
            at + i,
            {
                "id": f"proxy{i + 1}",
                "type": "proxy",
                "transports": [
                    {
                        "id": S.WEB_TRANSPORT_ID,
                        "type": "web",
                        "endpoint": dict(public),
                        "paths": copy.deepcopy(paths),
                        "options": dict(web.get("options", {})),
                    }
                ],
                "routes": {realm: {role: ROUTER_CONNECTION for role in roles}},
                "connections": {
                    ROUTER_CONNECTION: {
                        "transport": {
                            "type": "rawsocket",
                            "serializer": "msgpack",
                            "endpoint": {"type": "unix", "path": PROXY_SOCKET},
                        },
                        "auth": {"anonymous-proxy": {"type": "static"}},
                    }
                },
            },
        )


def _proxied(service: dict, name: str, router_port: int, realm: str) -> dict:
    """What a proxy serves at path `name` for the router's `service` there."""
    if service.get("type") not in SERVED_BY_PROXY:
        extra = {"port": router_port, "path": name}
        if name == S.METRICS_PATH:
            extra["name_client"] = False  # /metrics takes a forwarded client for one from beyond loopback
        return {"type": "resource", "classname": FORWARD_CLASS, "extra": extra}
    service = copy.deepcopy(service)
    for method in (service.get("auth") or {}).values():
        if method.get("type") == "dynamic":
            # the proxy calls the router's authenticator through a service session of its own: as the
            # backend role, which may call it (.crossbar/config.json)
            method.setdefault("authenticator-realm", realm)
            method.setdefault("authenticator-role", S.BACKEND_ROLE)
    return service
