"""Switchboard's backend WAMP components.

Each module holds one component: an Autobahn ApplicationSession subclass that Crossbar runs in a
container worker (see .crossbar/config.json) and that also runs standalone with
`python -m switchboard.components.<name> --url rs://127.0.0.1:8081`.  This package imports no Twisted at import
time, so its pure modules (validation, messages) are usable anywhere.
"""
