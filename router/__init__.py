"""Switchboard's router side, around a Crossbar node:

- `services/`: what runs inside the router worker (sign-in, authorization, HTTP bridge, history,
  replay memory, the Django link);
- `patches/`: measured patches of Crossbar's, Autobahn's and Twisted's internals, installed by one
  call when a worker starts;
- `node/`: the node runner, its supervisor and the `switchboard` command line;
- `testing/`: a real hub for tests, and the pytest plugin;
- `settings` (the environment, read in one place) and `client` (a blocking WAMP client).

Only `node/` and the services need crossbar installed (the [hub] extra); settings and the client
import without it.
"""
