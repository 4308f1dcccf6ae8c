"""The presence roster of a cluster, as Redis keeps it: key layout, Lua scripts, pure decisions. No I/O.

On a cluster node (SWITCHBOARD_REDIS_URL set) every node's presence component shares one roster in
Redis, with the meaning of components/roster.py: a member (user, browser or session) is present in
a room through one or more sessions, joins with its first and leaves with its last. Each change is
one Lua script, so it is atomic across nodes, and the script says whether the change is an event
(a new or changed member: join; a member's last session gone: leave). Only the node whose script
made the change publishes the event; the cluster relay carries it to the other nodes, so every
subscriber sees it once.

Node loss: each node's component renews a heartbeat key (`alive:<node>`, HEARTBEAT_TTL) every
HEARTBEAT_INTERVAL. A node killed with -9 stops renewing it; once it has expired, the next
surviving node to run REAP removes that node's sessions from every room and publishes the leaves.
REAP checks the heartbeat and removes in one script, so two survivors never both publish them.
A dead node is noticed within DEAD_NODE_NOTICED seconds of its last heartbeat.

Keys, under wire.presence_prefix(realm) (P):
  P members:<room>   hash  member id -> record (canonical JSON of {"id", "nick", "authid"})
  P counts:<room>    hash  member id -> how many of its sessions are in the room
  P rooms:<session>  hash  room -> member id (the rooms the session is in)
  P node_of          hash  session -> node it is on (a session in at least one room)
  P sessions:<node>  set   the node's sessions in at least one room
  P nodes            set   the nodes that have had sessions or beat since they were last reaped
  P alive:<node>     str   the node's heartbeat, expiring after HEARTBEAT_TTL

The scripts build key names from the prefix they are given, so they need one Redis (not Redis
Cluster, where a script must declare its keys).
"""

from __future__ import annotations

import hashlib
import json
import os.path
import socket

from switchboard.components.roster import ordered

#: seconds between two heartbeats of a node's presence component (each also reaps dead nodes)
HEARTBEAT_INTERVAL = 2.0
#: seconds a heartbeat lives: a node that has not renewed it for this long counts as dead
HEARTBEAT_TTL = 8.0
#: at most this many seconds after a node's last heartbeat, a surviving node has removed its sessions
DEAD_NODE_NOTICED = HEARTBEAT_TTL + HEARTBEAT_INTERVAL

#: what JOIN answers when the session is already in as many rooms as it may be
REFUSED = 0
#: sessions of dead nodes one REAP removes at most: a script holds Redis for its whole run (about
#: 10-30 ms per 500 sessions measured on a loaded 2-core machine), so a node of 10,000 sessions is
#: removed in 20 steps
REAP_BATCH = 500


def node_name(hostname: str, place: str) -> str:
    """A node's name in the roster: the same for every start of one node (its machine and its node
    directory), so a restarted component finds the sessions it recorded before."""
    return hashlib.sha256(f"{hostname}\0{place}".encode()).hexdigest()[:16]


def this_node(node_config: str | None, component_url: str | None) -> str:
    """This process's node: the node directory its config is in, or else the router URL it joins."""
    place = os.path.dirname(os.path.abspath(node_config)) if node_config else (component_url or "")
    return node_name(socket.gethostname(), place)


def encode_record(record: dict) -> str:
    """One canonical string per record, so a script can tell a changed record by comparing strings."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def decode_record(data: bytes | str) -> dict:
    return json.loads(data)


def members(values: list) -> list[dict]:
    """A room's records as HVALS gives them, in the order presence.list answers (roster.ordered)."""
    return ordered(decode_record(v) for v in values)


def leaves(flat: list) -> list[tuple[str, dict]]:
    """[room, record, room, record, ...] from LEAVE_ALL or REAP, as (room, member) pairs."""
    return [(_text(flat[i]), decode_record(flat[i + 1])) for i in range(0, len(flat), 2)]


def sessions(values) -> set[int]:
    return {int(v) for v in values}


def may_reap(now: float, beating_since: float | None, ttl: float = HEARTBEAT_TTL) -> bool:
    """Whether this node may remove other nodes' sessions: only after its own heartbeat has held for
    a whole TTL. After Redis was away every heartbeat has expired; the first node back waits until
    the others have beaten again instead of removing their sessions, which are alive."""
    return beating_since is not None and now - beating_since >= ttl


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --- the scripts --------------------------------------------------------------------------------
# ARGV[1] is always the prefix P. Replies: integers, strings and arrays only (Lua false is nil).

#: leave_room(p, session, room): the session out of the room; the member's record if that was its
#: last session there, else false; nil if the session was not in the room
_LEAVE_ROOM = """
local function leave_room(p, session, room)
  local rooms_key = p .. 'rooms:' .. session
  local member = redis.call('HGET', rooms_key, room)
  if not member then return nil end
  redis.call('HDEL', rooms_key, room)
  if redis.call('EXISTS', rooms_key) == 0 then
    local node = redis.call('HGET', p .. 'node_of', session)
    redis.call('HDEL', p .. 'node_of', session)
    if node then redis.call('SREM', p .. 'sessions:' .. node, session) end
  end
  local counts = p .. 'counts:' .. room
  if redis.call('HINCRBY', counts, member, -1) > 0 then return false end
  redis.call('HDEL', counts, member)
  local record = redis.call('HGET', p .. 'members:' .. room, member)
  redis.call('HDEL', p .. 'members:' .. room, member)
  return record
end

local function leave_all(p, session, out)
  local rooms = redis.call('HKEYS', p .. 'rooms:' .. session)
  table.sort(rooms)
  for _, room in ipairs(rooms) do
    local record = leave_room(p, session, room)
    if record then
      out[#out + 1] = room
      out[#out + 1] = record
    end
  end
  return out
end
"""

#: ARGV: P, room, session, member, record, node, max rooms per session.
#: Reply: {REFUSED} when over the cap, else {1, changed (1: publish a join), the room's records}.
JOIN = (
    _LEAVE_ROOM
    + """
local p, room, session, member, record, node = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local rooms_key = p .. 'rooms:' .. session
local previous = redis.call('HGET', rooms_key, room)
if not previous and redis.call('HLEN', rooms_key) >= tonumber(ARGV[7]) then return {0} end
if previous and previous ~= member then
  -- the session is in as another member (another client id): it leaves as that one, as Roster does
  leave_room(p, session, room)
  previous = false
end
if not previous then
  redis.call('HSET', rooms_key, room, member)
  redis.call('HINCRBY', p .. 'counts:' .. room, member, 1)
  redis.call('HSET', p .. 'node_of', session, node)
  redis.call('SADD', p .. 'sessions:' .. node, session)
  redis.call('SADD', p .. 'nodes', node)
end
local members = p .. 'members:' .. room
local changed = 0
if redis.call('HGET', members, member) ~= record then
  redis.call('HSET', members, member, record)
  changed = 1
end
return {1, changed, redis.call('HVALS', members)}
"""
)

#: ARGV: P, room, session. Reply: {} if the session was not in the room, {1} if it left and its
#: member is still there through another session, {1, record} if the member left (publish a leave).
LEAVE = (
    _LEAVE_ROOM
    + """
local record = leave_room(ARGV[1], ARGV[3], ARGV[2])
if record == nil then return {} end
if record then return {1, record} end
return {1}
"""
)

#: ARGV: P, session. Reply: [room, record, ...] for each member that left (the session's rooms sorted).
LEAVE_ALL = (
    _LEAVE_ROOM
    + """
return leave_all(ARGV[1], ARGV[2], {})
"""
)

#: ARGV: P, node, ttl in ms. Renews the node's heartbeat; reply 1 if it was still alive, 0 if it had
#: expired (or never was): then other nodes may have removed this node's sessions.
BEAT = """
local p, node = ARGV[1], ARGV[2]
local key = p .. 'alive:' .. node
local was = redis.call('EXISTS', key)
redis.call('SET', key, '1', 'PX', ARGV[3])
redis.call('SADD', p .. 'nodes', node)
return was
"""

#: ARGV: P, the node running it, at most how many sessions to remove. Every other node whose
#: heartbeat has expired: its sessions leave every room, and once it has none it is forgotten.
#: Reply: {nodes forgotten, [room, record, ...] of members that left, 1 if sessions are left to
#: remove (call again)}. A session is removed by one script only, so its leaves are published once.
REAP = (
    _LEAVE_ROOM
    + """
local p, me, budget = ARGV[1], ARGV[2], tonumber(ARGV[3])
local dead, out, more = {}, {}, 0
for _, node in ipairs(redis.call('SMEMBERS', p .. 'nodes')) do
  if node ~= me and redis.call('EXISTS', p .. 'alive:' .. node) == 0 then
    if budget <= 0 then
      more = 1
      break
    end
    local sessions = redis.call('SPOP', p .. 'sessions:' .. node, budget)
    for _, session in ipairs(sessions) do
      leave_all(p, session, out)
    end
    budget = budget - #sessions
    if redis.call('EXISTS', p .. 'sessions:' .. node) == 1 then
      more = 1
      break
    end
    redis.call('SREM', p .. 'nodes', node)
    dead[#dead + 1] = node
  end
end
return {dead, out, more}
"""
)
