// Unit tests for web/recovery.js (run by tests/unit/test_js.py through `node --test`).
"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { Stream, recover } = require("../../web/recovery.js");

function collector() {
  const got = [];
  const stream = new Stream((args, kwargs, details) => got.push([args[0], Boolean(details.recovered)]));
  return { got, stream };
}

function fakeHistory(events) {
  // events: [{position, publication, args}], a history.get over them (after_publication / since / limit)
  const calls = [];
  const call = (procedure, args, kwargs) => {
    calls.push(kwargs);
    let after = 0;
    if (kwargs.after_publication !== undefined) {
      const hit = events.find((e) => e.publication === kwargs.after_publication);
      after = hit ? hit.position : 0;
    } else if (kwargs.since !== undefined) after = kwargs.since;
    else after = Math.max(0, events.length - kwargs.limit);
    const page = events.filter((e) => e.position > after).slice(0, kwargs.limit);
    return Promise.resolve({ events: page.map((e) => ({ ...e, kwargs: {} })), last: events.length, gap: false });
  };
  return { call, calls };
}

const ev = (n) => ({ position: n, publication: 1000 + n, args: [`m${n}`] });

test("live events pass straight through and duplicates are dropped", () => {
  const { got, stream } = collector();
  stream.live(["a"], {}, { publication: 1 });
  stream.live(["a"], {}, { publication: 1 });
  stream.live(["b"], {}, { publication: 2 });
  assert.deepEqual(got, [["a", false], ["b", false]]);
  assert.equal(stream.last, 2);
});

test("after a reconnect: missed events once, in order, then held-back live ones", async () => {
  const { got, stream } = collector();
  const history = fakeHistory([1, 2, 3, 4, 5].map(ev));
  stream.live(["m1"], {}, { publication: 1001 });
  stream.live(["m2"], {}, { publication: 1002 });
  // disconnected while m3..m5 were published; m5 and m6 arrive live during recovery
  const done = recover(history.call, "t", stream, 0);
  stream.live(["m5"], {}, { publication: 1005 });
  stream.live(["m6"], {}, { publication: 1006 });
  const result = await done;
  assert.deepEqual(got.map((g) => g[0]), ["m1", "m2", "m3", "m4", "m5", "m6"]);
  assert.deepEqual(got.slice(2, 5).map((g) => g[1]), [true, true, true]);
  assert.equal(result.recovered, 3);
  assert.deepEqual(history.calls[0], { after_publication: 1002, limit: 1000 });
});

test("more than a page is fetched page by page", async () => {
  const { got, stream } = collector();
  const events = Array.from({ length: 2500 }, (_, i) => ev(i + 1));
  const history = fakeHistory(events);
  stream.live(["m1"], {}, { publication: 1001 });
  await recover(history.call, "t", stream, 0);
  assert.equal(got.length, 2500);
  assert.deepEqual(got.slice(-1)[0], ["m2500", true]);
  assert.deepEqual(history.calls.map((c) => c.since), [undefined, 1001, 2001]);
});

test("a new subscriber gets the newest events first, if asked", async () => {
  const { got, stream } = collector();
  await recover(fakeHistory([1, 2, 3].map(ev)).call, "t", stream, 2);
  assert.deepEqual(got.map((g) => g[0]), ["m2", "m3"]);
  const none = collector();
  await recover(fakeHistory([1, 2, 3].map(ev)).call, "t", none.stream, 0);
  assert.deepEqual(none.got, []);
});

test("a failed history call still releases the live events", async () => {
  const { got, stream } = collector();
  stream.last = 5;
  const done = recover(() => Promise.reject(new Error("down")), "t", stream, 0);
  stream.live(["late"], {}, { publication: 9 });
  await assert.rejects(done);
  assert.deepEqual(got, [["late", false]]);
});
