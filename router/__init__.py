"""Switchboard's router side: settings, node runner, CLI, blocking client and test fixtures.

Only `router.node` (and the CLI that uses it) needs crossbar installed; everything else imports
without it.
"""
