"""Switchboard's HTTP side: what Django (or any HTTP service) uses to talk to the hub.

`signing`, `tickets` and `replay` are the sans-I/O protocol core shared with the router; `client`
is a synchronous HTTP client; `django` is a Django app. Nothing here needs crossbar installed.
"""
