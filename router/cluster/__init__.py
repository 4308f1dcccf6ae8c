"""Many hub nodes as one: the same app config on N Crossbar nodes that share one Redis.

Each node routes its own sessions; Redis carries what must be shared. `wire` is the pure part (the
names in Redis and how a relayed event is encoded), `link` opens connections from
SWITCHBOARD_REDIS_URL, `relay` moves events between the nodes' brokers (hooked into Crossbar by
switchboard.router.patches.relay). docs/scaling.md says what is shared and what each node keeps.
"""
