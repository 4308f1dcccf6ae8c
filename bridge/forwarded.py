"""Which client a request comes from when a trusted reverse proxy forwards it (X-Forwarded-For).

Pure (no I/O): the router's connection limits and log lines (router/patches/forwarded.py) and its
tests share it. Behind nginx every TCP connection comes from the proxy, so the client's address is
the one the proxy appends to X-Forwarded-For. The header is believed only from a peer in the
trusted list (SWITCHBOARD_TRUSTED_PROXIES, default none): anyone else could write any address in
it. Read right to left (each proxy appends the address it was connected from), the client is the
first hop that is not itself a trusted proxy; hops further left were written by that client and
are never believed. A malformed hop ends the walk at the last address a trusted proxy vouched for.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(text: str, name: str = "SWITCHBOARD_TRUSTED_PROXIES") -> tuple[Network, ...]:
    """Comma- or space-separated addresses and CIDR networks (`127.0.0.1, 10.0.0.0/8, ::1`); ValueError
    naming `name` and the entry that is neither."""
    networks = []
    for entry in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"{name}: {entry!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)"
            ) from None
    return tuple(networks)


#: the request headers a reverse proxy names the client in: X-Forwarded-For (nginx's
#: $proxy_add_x_forwarded_for, Twisted's and most proxies'), X-Real-IP (nginx's $remote_addr) and
#: Forwarded (RFC 7239 section 4)
CLIENT_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def names_a_client(header_names: Iterable[str]) -> str | None:
    """The first of CLIENT_HEADERS among `header_names` (a request's; names compare in any case), or
    None. A request carrying one came through a proxy, from a client that may be anywhere whoever its
    TCP peer is. Whether the header would be believed does not matter here, only that it is there."""
    present = {name.lower() for name in header_names}
    return next((name for name in CLIENT_HEADERS if name.lower() in present), None)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port, as some proxies write it
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def is_trusted(peer: str, trusted: tuple[Network, ...]) -> bool:
    """Whether TCP peer `peer` is one of the trusted proxies."""
    if not trusted:
        return False
    address = _address(peer)
    return address is not None and any(address in network for network in trusted)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: tuple[Network, ...]) -> str:
    """The client a request from TCP peer `peer` counts as: `peer` itself unless it is trusted; else
    the right-most X-Forwarded-For hop (`forwarded_for`: the header's values, in order) that is not a
    trusted proxy, or, when every hop is trusted or one is malformed, the last trusted one reached."""
    if not is_trusted(peer, trusted):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        client = str(address)
        if not any(address in network for network in trusted):
            break
    return client
