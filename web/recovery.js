// Recovery for one subscription: after a (re)connect, what was missed comes from history.get and is
// delivered once and in order, with the live events that arrive meanwhile held back and de-duplicated
// (by WAMP publication id, which history stores with each event). No I/O of its own: `call` is given.
// Plain script (window.SwitchboardRecovery) and CommonJS (for node --test).
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.SwitchboardRecovery = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var PAGE = 1000;          // history.get's largest page
  var REMEMBER = 10000;     // publication ids remembered for de-duplication

  // handler(args, kwargs, details); details.recovered is true for events that came from history.
  function Stream(handler) {
    this.handler = handler;
    this.last = null;           // publication id of the last event delivered
    this.recovering = false;
    this.buffer = [];
    this._seen = new Map();     // publication id -> true, oldest first
  }

  Stream.prototype._deliver = function (args, kwargs, details) {
    var id = details && details.publication;
    if (id !== undefined && id !== null) {
      if (this._seen.has(id)) return false;
      this._seen.set(id, true);
      if (this._seen.size > REMEMBER) this._seen.delete(this._seen.keys().next().value);
      this.last = id;
    }
    this.handler(args || [], kwargs || {}, details || {});
    return true;
  };

  // A live event from the subscription.
  Stream.prototype.live = function (args, kwargs, details) {
    if (this.recovering) this.buffer.push([args, kwargs, details]);
    else this._deliver(args, kwargs, details);
  };

  Stream.prototype.begin = function () {
    this.recovering = true;
  };

  // Events from history.get, oldest first.
  Stream.prototype.recovered = function (events, topic) {
    var self = this;
    events.forEach(function (e) {
      self._deliver(e.args, e.kwargs, { publication: e.publication, topic: topic || e.topic, position: e.position,
        recovered: true });
    });
  };

  // End of recovery: what arrived live meanwhile, minus what history already gave.
  Stream.prototype.end = function () {
    var buffered = this.buffer;
    this.buffer = [];
    this.recovering = false;
    for (var i = 0; i < buffered.length; i++) this._deliver.apply(this, buffered[i]);
  };

  // Fetch what `stream` missed on `topic` (or the newest `initial` events when it has seen none) with
  // call(procedure, args, kwargs) -> Promise, then release the held-back live events. Resolves to
  // {recovered: n, gap: bool}; on failure live delivery resumes and the promise rejects.
  function recover(call, topic, stream, initial) {
    stream.begin();
    var count = 0, gap = false;

    function page(kwargs) {
      return call("history.get", [topic], kwargs).then(function (result) {
        gap = gap || Boolean(result.gap);
        stream.recovered(result.events, topic);
        count += result.events.length;
        if (result.events.length === kwargs.limit && result.events.length > 0) {
          return page({ since: result.events[result.events.length - 1].position, limit: PAGE });
        }
        return null;
      });
    }

    var first;
    if (stream.last !== null) first = page({ after_publication: stream.last, limit: PAGE });
    else if (initial > 0) first = call("history.get", [topic], { limit: Math.min(initial, PAGE) }).then(function (r) {
      stream.recovered(r.events, topic);
      count += r.events.length;
    });
    else first = Promise.resolve();
    return first.then(function () {
      stream.end();
      return { recovered: count, gap: gap };
    }, function (err) {
      stream.end();
      throw err;
    });
  }

  return { Stream: Stream, recover: recover, PAGE: PAGE };
});
