"""Raw signed HTTP requests to the hub's bridge, for tests of the protocol itself."""

import json
import urllib.error
import urllib.request

from switchboard.bridge.signing import sign_request


def request(hub, path, body=None, *, method="POST", secret=None, key=None, headers=None, raw=None, sign=True):
    """Send one request; returns (status, parsed JSON body)."""
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    all_headers = {"Content-Type": "application/json"}
    if sign:
        all_headers.update(
            sign_request(key or hub.bridge_key, secret or hub.bridge_secret, method, "/bridge/" + path, data)
        )
    all_headers.update(headers or {})
    req = urllib.request.Request(
        hub.bridge_url + path, data=data if method != "GET" else None, headers=all_headers, method=method
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
