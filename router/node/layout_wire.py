"""What the layout measurement's processes agree on: the loads' URIs and names, and the load
process's timeout. Framework-free, so the load process (Twisted, router/node/layout_load.py), its
callee (a container component, layout_callee.py) and the measuring process (asyncio clients,
layout_measure.py) all import it."""

#: the URI prefix the measurement's hubs let anonymous sessions use, its topic and its procedure
PREFIX = "switchboard.layout."
FANOUT_TOPIC, ECHO_PROCEDURE = PREFIX + "fanout", PREFIX + "echo"
#: the loads, in the order they run
FANOUT, RPC = "fanout", "rpc"
LOADS = (FANOUT, RPC)
#: seconds the load process has to join every session
JOIN_TIMEOUT = 60.0
