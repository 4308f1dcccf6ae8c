// Switchboard for pages served by Django: join the hub as the signed-in user (WAMP-Ticket, a fresh
// single-use ticket from Django on every (re)connect) or anonymously, stay connected, and redo every
// subscription after each reconnect. Plain script, no build step; AutobahnJS must be loaded first.
// {% load switchboard %}{% switchboard_scripts %} emits both scripts and the config.
//
//   var hub = Switchboard.connect();            // config from <script id="switchboard-config">
//   Switchboard.connect({url: "ws://a/ws", urls: ["ws://a/ws", "ws://b/ws"], realm: "switchboard"});
//                                               // a cluster: `url` first, the others when it is lost
//   hub.on("state", function (state) { ... });  // "connecting" | "online" | "reconnecting" | "closed"
//   hub.subscribe("public.notes.created", function (args) { ... });     // kept across reconnects
//   hub.subscribe("chat.room.lobby", onMessage, {recover: true, history: 50});  // + missed events, once, in order
//   hub.subscribePrivate("notifications", function (args) { ... });      // user.<authid>.notifications
//   hub.call("django.greet", ["Ann"], {}, {timeout: 5000}).then(function (result) { ... });
//   var room = hub.presence("lobby", "ann", function (members) { ... });  // kept across reconnects
//   hub.ready.then(function (session) { ... });  // the first session
// With {recover: true} (needs recovery.js and a history-enabled topic), every (re)subscribe first
// fetches what was missed from history.get, then continues live, each event delivered once.
// With `urls` (a cluster's nodes, docs/scaling.md), every attempt after a lost or refused connection
// goes to the next node: a page whose node died joins another, resubscribes and recovers there.
(function (global) {
  "use strict";

  var CONFIG_ID = "switchboard-config";
  var RETRY = { initial: 500, max: 10000, growth: 1.5, jitter: 0.2 };

  function readConfig() {
    var element = document.getElementById(CONFIG_ID);
    if (!element) {
      throw new Error("Switchboard: no #" + CONFIG_ID + " element: add {% switchboard_scripts %} or pass a config");
    }
    return JSON.parse(element.textContent);
  }

  function fetchTicket(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("ticket endpoint answered HTTP " + response.status);
        return response.json();
      });
  }

  function retryDelay(attempt) {
    var delay = Math.min(RETRY.max, RETRY.initial * Math.pow(RETRY.growth, attempt));
    return delay * (1 - RETRY.jitter + 2 * RETRY.jitter * Math.random());
  }

  var CLIENT_KEY = "switchboard.client";

  // An id this browser's tabs share, so presence counts the person once, not each tab.
  function clientId() {
    var id = null;
    try { id = localStorage.getItem(CLIENT_KEY); } catch (e) { /* storage off: one id per page */ }
    if (!id) {
      id = "c" + Array.from(crypto.getRandomValues(new Uint8Array(12)), function (b) {
        return b.toString(16).padStart(2, "0");
      }).join("");
      try { localStorage.setItem(CLIENT_KEY, id); } catch (e) { /* see above */ }
    }
    return id;
  }

  // WAMP serializers, best first: msgpack when the AutobahnJS build has it (the router decodes it in
  // C, but Autobahn's JSON partly in pure Python: calls measured 5-14% faster, docs/benchmarks.md),
  // JSON otherwise. The router takes the first one it speaks, so JSON stays the fallback.
  function serializers() {
    var s = autobahn.serializer || {};
    var list = s.MsgpackSerializer ? [new s.MsgpackSerializer()] : [];
    return list.concat([new s.JSONSerializer()]);
  }

  // The URLs to try, in turn: `url` first (the node that served the page), then the other nodes in a
  // random order, so the pages of a node that died spread over the others instead of all joining one.
  function connectOrder(url, urls) {
    var others = (urls || []).filter(function (u, i, all) { return u && u !== url && all.indexOf(u) === i; });
    for (var i = others.length - 1; i > 0; i--) {
      var j = Math.floor(Math.random() * (i + 1));
      var swap = others[i]; others[i] = others[j]; others[j] = swap;
    }
    return (url ? [url] : []).concat(others);
  }

  function offline() {
    return Promise.reject({ error: "switchboard.error.offline", args: ["not connected to the hub"], kwargs: {} });
  }

  // One hub connection. Every attempt is a fresh autobahn.Connection, so each can carry a new ticket
  // (or go anonymous once Django says the user signed out); AutobahnJS's own retry is off.
  function Hub(config) {
    if (typeof autobahn === "undefined") throw new Error("Switchboard: load autobahn.min.js before switchboard.js");
    if (!config || !(config.url || (config.urls && config.urls.length)) || !config.realm) {
      throw new Error("Switchboard: config needs url (or urls) and realm");
    }
    var self = this;
    this.config = config;
    this.urls = connectOrder(config.url, config.urls);
    this.url = null;                // the URL of the node this page is connected to now
    this._next = 0;                 // index in urls of the next attempt
    this.state = null;
    this.session = null;
    this.authid = null;
    this.authrole = null;
    this.lastError = null;          // {reason, message} of the last close or refused join
    this._signedIn = Boolean(config.signedIn && config.ticketUrl);
    this._listeners = { state: [], session: [], error: [] };
    this._subscriptions = [];
    this._attempt = 0;
    this._closing = false;
    this._connection = null;
    this._timer = null;
    this.ready = new Promise(function (resolve) { self._resolveReady = resolve; });
    this._setState("connecting");
    this._open();
  }

  Hub.prototype.on = function (event, listener) {
    if (!this._listeners[event]) throw new Error("Switchboard: no event " + event + " (state, session, error)");
    this._listeners[event].push(listener);
    if (event === "state") listener(this.state, this);
    if (event === "session" && this.session) listener(this.session, this);
    return this;
  };

  Hub.prototype.off = function (event, listener) {
    this._listeners[event] = (this._listeners[event] || []).filter(function (l) { return l !== listener; });
    return this;
  };

  Hub.prototype._emit = function (event, value) {
    var self = this;
    this._listeners[event].forEach(function (listener) {
      try { listener(value, self); } catch (e) { console.error("Switchboard " + event + " listener failed", e); }
    });
  };

  Hub.prototype._setState = function (state) {
    if (state === this.state) return;
    this.state = state;
    this._emit("state", state);
  };

  Hub.prototype._open = function () {
    var self = this;
    var config = this.config;
    var signedIn = this._signedIn;
    var url = this.urls[this._next];
    var options = { url: url, realm: config.realm, max_retries: 0, retry_if_unreachable: false,
                    serializers: serializers() };
    if (signedIn) {
      options.authmethods = ["ticket"];
      // Called at every join: tickets are single-use and short-lived, so always ask Django for a new one.
      options.onchallenge = function (session, method) {
        if (method !== "ticket") throw new Error("cannot answer a " + method + " challenge");
        return fetchTicket(config.ticketUrl).then(function (answer) {
          if (!answer.ticket) {
            self._signedIn = false;  // signed out meanwhile: the next attempt joins anonymously
            throw new Error("not signed in any more");
          }
          return answer.ticket;
        });
      };
    }
    var connection = new autobahn.Connection(options);
    this._connection = connection;

    connection.onopen = function (session, details) {
      if (self._connection !== connection || self._closing) {  // closed meanwhile
        try { connection.close(); } catch (e) { /* already closing */ }
        return;
      }
      self._attempt = 0;
      self.url = url;
      self.session = session;
      self.authid = details && details.authid !== undefined ? String(details.authid) : null;
      self.authrole = details ? details.authrole : null;
      self.lastError = null;
      self._subscriptions.forEach(function (entry) { self._subscribe(session, entry); });
      self._setState("online");
      self._emit("session", session);
      self._resolveReady(session);
    };

    connection.onclose = function (reason, details) {
      if (self._connection !== connection) return true;
      self.session = null;
      self.url = null;
      self._next = (self._next + 1) % self.urls.length;  // lost or refused: the next node (one URL: the same)
      self._subscriptions.forEach(function (entry) { entry.current = null; });
      if (details && details.reason) {
        self.lastError = { reason: details.reason, message: details.message || "" };
        self._emit("error", self.lastError);
      }
      if (self._closing) {
        self._setState("closed");
        return true;
      }
      self._setState(self.state === "connecting" ? "connecting" : "reconnecting");
      var delay = signedIn && !self._signedIn ? 0 : retryDelay(self._attempt++);
      self._timer = setTimeout(function () { self._timer = null; self._open(); }, delay);
      return true;  // no AutobahnJS retry: the next attempt is a new connection
    };

    connection.open();
  };

  Hub.prototype._subscribe = function (session, entry) {
    var self = this;
    var topic = typeof entry.topic === "function" ? entry.topic(this) : entry.topic;
    if (!topic) return Promise.resolve(null);
    var handler = entry.handler;
    if (entry.recover) {
      if (!entry.stream || entry.streamTopic !== topic) {  // a new topic (e.g. another user's): start afresh
        entry.stream = new SwitchboardRecovery.Stream(entry.handler);
        entry.streamTopic = topic;
      }
      var stream = entry.stream;
      stream.begin();  // hold live events back until what was missed is delivered
      handler = function (args, kwargs, details) { stream.live(args, kwargs, details); };
    }
    return session.subscribe(topic, handler, entry.options).then(function (subscription) {
      if (!entry.active || self.session !== session) {
        session.unsubscribe(subscription).catch(function () {});
        return null;
      }
      entry.current = subscription;
      if (!entry.recover) return subscription;
      var call = function (procedure, args, kwargs) { return session.call(procedure, args, kwargs); };
      return SwitchboardRecovery.recover(call, topic, entry.stream, entry.history).then(function (result) {
        if (result.gap) {
          self._emit("error", { topic: topic, reason: "switchboard.error.history_gap",
            message: "some missed events are no longer in history" });
        }
        return subscription;
      }, function (err) {
        self._emit("error", { topic: topic, reason: err && err.error, message: err && err.args && err.args[0] });
        return subscription;
      });
    }, function (err) {
      if (entry.stream) entry.stream.end();
      self._emit("error", { topic: topic, reason: err && err.error, message: err && err.args && err.args[0] });
      return null;
    });
  };

  // Subscribe now (if online) and again after every reconnect. `topic` may be a function of the hub
  // (called at each join) returning the topic, or null to skip. Returns {unsubscribe(), promise}.
  // options.recover: deliver what was missed while away (from history) before live events;
  // options.history: how many recent events to show on the first subscribe. Other options go to WAMP.
  Hub.prototype.subscribe = function (topic, handler, options) {
    var self = this;
    var wampOptions = Object.assign({}, options || {});
    var recover = Boolean(wampOptions.recover), history = wampOptions.history || 0;
    delete wampOptions.recover;
    delete wampOptions.history;
    if (recover && typeof SwitchboardRecovery === "undefined") {
      throw new Error("Switchboard: {recover: true} needs recovery.js loaded before switchboard.js");
    }
    var entry = { topic: topic, handler: handler, options: wampOptions, current: null, active: true,
      recover: recover, history: history, stream: null, streamTopic: null };
    this._subscriptions.push(entry);
    var promise = this.session ? this._subscribe(this.session, entry) : Promise.resolve(null);
    return {
      promise: promise,
      unsubscribe: function () {
        entry.active = false;
        self._subscriptions = self._subscriptions.filter(function (e) { return e !== entry; });
        if (entry.current && self.session) return self.session.unsubscribe(entry.current);
        return Promise.resolve();
      },
    };
  };

  // The signed-in user's own topic user.<authid>.<name>; nothing while the page is anonymous.
  Hub.prototype.subscribePrivate = function (name, handler, options) {
    return this.subscribe(function (hub) {
      return hub.authrole === "user" && hub.authid ? "user." + hub.authid + "." + name : null;
    }, handler, options);
  };

  // options.timeout (milliseconds): reject with switchboard.error.timeout when no result comes in time.
  Hub.prototype.call = function (procedure, args, kwargs, options) {
    if (!this.session) return offline();
    var wampOptions = Object.assign({}, options || {});
    var timeout = wampOptions.timeout;
    delete wampOptions.timeout;
    var result = this.session.call(procedure, args || [], kwargs || {}, wampOptions);
    if (!timeout) return result;
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () {
        reject({ error: "switchboard.error.timeout", args: ["no result within " + timeout + " ms"], kwargs: {} });
      }, timeout);
      result.then(function (value) { clearTimeout(timer); resolve(value); },
        function (err) { clearTimeout(timer); reject(err); });
    });
  };

  // Be present in `room` as `nick` (one entry per person however many tabs), on every session.
  // onChange(members) gets the whole list after each change. Returns {members(), rename(nick), leave()}.
  Hub.prototype.presence = function (room, nick, onChange) {
    var self = this, members = new Map(), client = clientId(), active = true;
    function changed() { if (active) onChange(Array.from(members.values())); }
    function join() {
      if (!self.session || !active) return Promise.resolve();
      return self.session.call("presence.join", [room, nick, client]).then(function (list) {
        members = new Map(list.map(function (m) { return [m.id, m]; }));
        changed();
      }, function (err) {
        self._emit("error", { topic: "presence.room." + room, reason: err && err.error,
          message: err && err.args && err.args[0] });
      });
    }
    var events = this.subscribe("presence.room." + room, function (args) {
      var event = args[0];
      if (event.event === "join") members.set(event.member.id, event.member);
      else members.delete(event.member.id);
      changed();
    });
    // The presence service asks everyone to join again when it (re)starts with an empty roster.
    var sync = this.subscribe("presence.sync", join);
    this.on("session", join);
    return {
      client: client,
      isMe: function (member) {
        return member.id === (self.authrole === "user" && self.authid ? "user:" + self.authid : "client:" + client);
      },
      members: function () { return Array.from(members.values()); },
      rename: function (newNick) { nick = newNick; return join(); },
      leave: function () {
        active = false;
        self.off("session", join);
        events.unsubscribe();
        sync.unsubscribe();
        return self.session ? self.session.call("presence.leave", [room]) : Promise.resolve(false);
      },
    };
  };

  // Acknowledged publish (rejects when the router refuses it).
  Hub.prototype.publish = function (topic, args, kwargs, options) {
    if (!this.session) return offline();
    var opts = Object.assign({ acknowledge: true }, options || {});
    return this.session.publish(topic, args || [], kwargs || {}, opts);
  };

  Hub.prototype.close = function () {
    this._closing = true;
    if (this._timer) { clearTimeout(this._timer); this._timer = null; }
    var connection = this._connection;
    this._connection = null;
    this.session = null;
    if (connection) {
      try { connection.close(); } catch (e) { /* not open (yet): nothing to close */ }
    }
    this._setState("closed");
  };

  global.Switchboard = {
    Hub: Hub,
    readConfig: readConfig,
    connect: function (config) { return new Hub(config || readConfig()); },
  };
})(window);
