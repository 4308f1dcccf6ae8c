// Switchboard for pages served by Django: join the hub as the signed-in user (WAMP-Ticket, a fresh
// single-use ticket from Django on every (re)connect) or anonymously, stay connected, and redo every
// subscription after each reconnect. Plain script, no build step; AutobahnJS must be loaded first.
// {% load switchboard %}{% switchboard_scripts %} emits both scripts and the config.
//
//   var hub = Switchboard.connect();            // config from <script id="switchboard-config">
//   hub.on("state", function (state) { ... });  // "connecting" | "online" | "reconnecting" | "closed"
//   hub.subscribe("public.notes.created", function (args) { ... });     // kept across reconnects
//   hub.subscribePrivate("notifications", function (args) { ... });      // user.<authid>.notifications
//   hub.call("django.greet", ["Ann"]).then(function (result) { ... });
//   hub.ready.then(function (session) { ... });  // the first session
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

  function offline() {
    return Promise.reject({ error: "switchboard.error.offline", args: ["not connected to the hub"], kwargs: {} });
  }

  // One hub connection. Every attempt is a fresh autobahn.Connection, so each can carry a new ticket
  // (or go anonymous once Django says the user signed out); AutobahnJS's own retry is off.
  function Hub(config) {
    if (typeof autobahn === "undefined") throw new Error("Switchboard: load autobahn.min.js before switchboard.js");
    if (!config || !config.url || !config.realm) throw new Error("Switchboard: config needs url and realm");
    var self = this;
    this.config = config;
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
    var options = { url: config.url, realm: config.realm, max_retries: 0, retry_if_unreachable: false };
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
    return session.subscribe(topic, entry.handler, entry.options).then(function (subscription) {
      if (!entry.active || self.session !== session) {
        session.unsubscribe(subscription).catch(function () {});
        return null;
      }
      entry.current = subscription;
      return subscription;
    }, function (err) {
      self._emit("error", { topic: topic, reason: err && err.error, message: err && err.args && err.args[0] });
      return null;
    });
  };

  // Subscribe now (if online) and again after every reconnect. `topic` may be a function of the hub
  // (called at each join) returning the topic, or null to skip. Returns {unsubscribe(), promise}.
  Hub.prototype.subscribe = function (topic, handler, options) {
    var self = this;
    var entry = { topic: topic, handler: handler, options: options || {}, current: null, active: true };
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

  Hub.prototype.call = function (procedure, args, kwargs, options) {
    return this.session ? this.session.call(procedure, args || [], kwargs || {}, options) : offline();
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
