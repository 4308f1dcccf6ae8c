"""The host and port of a URL built from a listening address: `host:port`, an IPv6 literal in brackets.

Pure (no I/O). SWITCHBOARD_HOST is an interface address (`127.0.0.1`, `0.0.0.0`, `::1`, `::`) or a
name; a URL cannot hold a bare IPv6 address, whose colons would read as the port's (RFC 3986 section
3.2.2: an IP literal is written `[::1]`), and a zone (`fe80::1%eth0`) has its `%` written `%25`
inside the brackets (RFC 6874). Every URL the hub, its CLI and its tests build from a host and a port
goes through `netloc` (router/settings.py's http_url, ws_url and the rest).
"""

from __future__ import annotations


def url_host(host: str) -> str:
    """`host` as a URL writes it: an IPv6 literal in brackets (its zone's `%` as `%25`), anything else
    (an IPv4 address, a name, an already bracketed literal) as it is."""
    if ":" in host and not host.startswith("["):
        return "[" + host.replace("%", "%25") + "]"
    return host


def netloc(host: str, port: int) -> str:
    """`host:port` for a URL: `127.0.0.1:8080`, `[::1]:8080`, `hub.example.com:443`."""
    return f"{url_host(host)}:{port}"
