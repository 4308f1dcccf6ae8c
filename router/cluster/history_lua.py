"""The cluster's event history in Redis: its keys, its stored event format and its Lua scripts. Pure, no I/O.

Every node's history component writes the same keys (router/services/history_redis.py runs these
scripts), so each script does its whole job atomically inside Redis: two nodes committing batches
to one topic at once interleave whole events, and each event gets the next position of one
contiguous sequence per topic. Under the realm's prefix (`wire.history_prefix`), `P` below:

- `P last`     hash   topic -> its last position (kept when retention empties the topic, so the
  numbering goes on; dropped with the topic by eviction)
- `P active`   zset   topic -> the newest `published` written to it (eviction takes the lowest first)
- `P size`     hash   topic -> the bytes its stored events hold
- `P totals`   hash   events, bytes: the whole store's (what `history_max_bytes` caps)
- `P e:<topic>` zset  position -> the stored event (member), score the position
- `P p:<topic>` hash  publication id -> position (history.get's after_publication)

A stored event is `<position>:<publication or empty>:<published>:<payload JSON>`: the scripts read
the publication id and the time from its head without decoding JSON (cjson would turn a 53-bit
publication id into a float), and its length is what the byte cap counts. One script per job, so a
batch of events is one round trip. The keys are made inside the scripts from `P`: one Redis server
(or a primary with replicas), not Redis Cluster.
"""

from __future__ import annotations

import json
from typing import Iterable

#: events a trim or eviction walks per ZRANGE inside a script
SCAN = 200

#: shared by the scripts that delete: drop one topic whole; returns nothing, updates the totals
_DROP = """
local function drop(P, topic)
  local size = tonumber(redis.call('HGET', P .. 'size', topic) or '0')
  local n = redis.call('ZCARD', P .. 'e:' .. topic)
  redis.call('DEL', P .. 'e:' .. topic, P .. 'p:' .. topic)
  redis.call('HDEL', P .. 'last', topic)
  redis.call('HDEL', P .. 'size', topic)
  redis.call('ZREM', P .. 'active', topic)
  redis.call('HINCRBY', P .. 'totals', 'events', 0 - n)
  redis.call('HINCRBY', P .. 'totals', 'bytes', 0 - size)
end
local function totals(P)
  local t = redis.call('HMGET', P .. 'totals', 'events', 'bytes')
  return {tonumber(t[1] or '0'), tonumber(t[2] or '0')}
end
"""

#: ARGV: P, the number of holes H, H times (topic, count), then (topic, publication or "",
#: published, payload) per event, in order. A hole is `count` positions of its topic that no event
#: holds (events a node held while Redis was away and had to drop: router/services/history_held.py),
#: taken before the events. An event whose publication id the topic has already is not stored again
#: (its position is returned): a batch whose reply was lost (Redis stopped after running it) is
#: written again once Redis is back. Returns {positions of the events..., events total, bytes total}.
APPEND = (
    _DROP
    + """
local P = ARGV[1]
local holes = tonumber(ARGV[2])
for i = 3, 2 + 2 * holes, 2 do
  redis.call('HINCRBY', P .. 'last', ARGV[i], tonumber(ARGV[i + 1]))
end
local out, events, bytes = {}, 0, 0
for i = 3 + 2 * holes, #ARGV, 4 do
  local topic, pub, published, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local stored = pub ~= '' and redis.call('HGET', P .. 'p:' .. topic, pub)
  if stored then
    out[#out + 1] = tonumber(stored)
  else
    local position = redis.call('HINCRBY', P .. 'last', topic, 1)
    local member = position .. ':' .. pub .. ':' .. published .. ':' .. payload
    redis.call('ZADD', P .. 'e:' .. topic, position, member)
    if pub ~= '' then
      redis.call('HSET', P .. 'p:' .. topic, pub, position)
    end
    redis.call('ZADD', P .. 'active', 'GT', published, topic)
    redis.call('HINCRBY', P .. 'size', topic, #member)
    events, bytes = events + 1, bytes + #member
    out[#out + 1] = position
  end
end
redis.call('HINCRBY', P .. 'totals', 'events', events)
redis.call('HINCRBY', P .. 'totals', 'bytes', bytes)
local t = totals(P)
out[#out + 1] = t[1]
out[#out + 1] = t[2]
return out
"""
)

#: ARGV: P, quick (1 or 0), then (topic, max_events, min_published) per topic.
#: Drops events beyond the newest max_events, and those published before min_published: with quick,
#: only from the oldest on until a recent one (times grow with positions but for clock steps and
#: skew between nodes), else every one. Returns {dropped, events total, bytes total}.
TRIM = (
    _DROP
    + """
local P, quick = ARGV[1], ARGV[2] == '1'
local scan = tonumber(ARGV[3])
local dropped = 0
local function forget(topic, members)
  local bytes = 0
  for _, m in ipairs(members) do
    local pub = string.match(m, '^%d+:(%d*):')
    if pub and pub ~= '' then
      redis.call('HDEL', P .. 'p:' .. topic, pub)
    end
    bytes = bytes + #m
  end
  redis.call('HINCRBY', P .. 'size', topic, 0 - bytes)
  redis.call('HINCRBY', P .. 'totals', 'events', 0 - #members)
  redis.call('HINCRBY', P .. 'totals', 'bytes', 0 - bytes)
  dropped = dropped + #members
end
local function published(m)
  return tonumber(string.match(m, '^%d+:%d*:([^:]*):'))
end
for i = 4, #ARGV, 3 do
  local topic, max_events, min_published = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local key = P .. 'e:' .. topic
  local cutoff = tonumber(redis.call('HGET', P .. 'last', topic) or '0') - max_events
  if cutoff > 0 then
    local old = redis.call('ZRANGEBYSCORE', key, '-inf', cutoff)
    if #old > 0 then
      forget(topic, old)
      redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
    end
  end
  if quick then
    while true do
      local head = redis.call('ZRANGE', key, 0, scan - 1)
      local n = 0
      for _, m in ipairs(head) do
        if published(m) >= min_published then break end
        n = n + 1
      end
      if n == 0 then break end
      local old = {}
      for k = 1, n do old[k] = head[k] end
      forget(topic, old)
      redis.call('ZREMRANGEBYRANK', key, 0, n - 1)
      if n < #head then break end
    end
  else
    local start = 0
    while true do
      local chunk = redis.call('ZRANGE', key, start, start + scan - 1)
      if #chunk == 0 then break end
      local old = {}
      for _, m in ipairs(chunk) do
        if published(m) < min_published then old[#old + 1] = m end
      end
      if #old > 0 then
        forget(topic, old)
        for _, m in ipairs(old) do redis.call('ZREM', key, m) end
      end
      start = start + #chunk - #old
    end
  end
end
local t = totals(P)
return {dropped, t[1], t[2]}
"""
)

#: ARGV: P, topics... Forgets them whole (events, publications and position counter).
#: Returns {events total, bytes total}.
DROP = (
    _DROP
    + """
local P = ARGV[1]
for i = 2, #ARGV do drop(P, ARGV[i]) end
return totals(P)
"""
)

#: ARGV: P, max_topics, max_bytes, low_water (a share of max_bytes), topics to keep...
#: Over max_topics, drops the least recently written topics whole (kept ones too, if need be); over
#: max_bytes, drops the least recently written but the kept ones until the bytes are at most
#: low_water * max_bytes. Returns {dropped for the topic cap, dropped for the byte cap, events, bytes}.
EVICT = (
    _DROP
    + """
local P, max_topics, max_bytes = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local target = max_bytes * tonumber(ARGV[4])
local keep = {}
for i = 5, #ARGV do keep[ARGV[i]] = true end
local for_topics, for_bytes = 0, 0
local excess = redis.call('HLEN', P .. 'last') - max_topics
if excess > 0 then
  for _, topic in ipairs(redis.call('ZRANGE', P .. 'active', 0, excess - 1)) do
    drop(P, topic)
    for_topics = for_topics + 1
  end
end
if totals(P)[2] > max_bytes then
  local start = 0
  local bytes = totals(P)[2]
  while bytes > target do
    local batch = redis.call('ZRANGE', P .. 'active', start, start + 99)
    if #batch == 0 then break end
    for _, topic in ipairs(batch) do
      if keep[topic] then
        start = start + 1
      else
        drop(P, topic)
        for_bytes = for_bytes + 1
        bytes = totals(P)[2]
        if bytes <= target then break end
      end
    end
  end
end
local t = totals(P)
return {for_topics, for_bytes, t[1], t[2]}
"""
)


def payload(args: list, kwargs: dict) -> str:
    """An event's payload as stored (the same JSON the SQLite store keeps)."""
    return json.dumps([args, kwargs], separators=(",", ":"))


def append_args(
    prefix: str, events: Iterable[tuple[str, int | None, float, list, dict]], holes: dict[str, int] | None = None
) -> list[str]:
    """APPEND's ARGV for (topic, publication, published, args, kwargs) events, after `holes` (topic ->
    positions left empty)."""
    holes = {topic: n for topic, n in (holes or {}).items() if n > 0}
    argv = [prefix, str(len(holes))]
    for topic, n in holes.items():
        argv += [topic, str(int(n))]
    for topic, publication, published, args, kwargs in events:
        argv += [topic, "" if publication is None else str(publication), repr(float(published)), payload(args, kwargs)]
    return argv


def decode(member: bytes | str) -> tuple[int, int | None, float, list, dict]:
    """A stored event: (position, publication, published, args, kwargs)."""
    if isinstance(member, bytes):
        member = member.decode()
    position, publication, published, data = member.split(":", 3)
    args, kwargs = json.loads(data)
    return int(position), int(publication) if publication else None, float(published), args, kwargs
