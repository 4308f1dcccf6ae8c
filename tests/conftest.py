"""Shared test setup. The `switchboard_hub` fixture comes from router.pytest_plugin (pytest11)."""
