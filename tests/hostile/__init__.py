"""Hypothesis-driven hostile input against a real hub: /ws in every serializer, the RawSocket backend
port before and after authentication, and the HTTP bridge. `make test` runs a few examples per test;
`make fuzz` runs many (SWITCHBOARD_FUZZ_EXAMPLES)."""
