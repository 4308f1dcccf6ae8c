// Switchboard's admin dashboard: a WAMP session with role admin (the admin secret, or a ticket with
// role admin from #ticket=...), polling once a second. Charts take rates from two snapshots of the
// router's counters (switchboard.admin.stats, cumulative); the tables come from the meta API
// (wamp.session.*, wamp.registration.*) and the stats' topics; a session is kicked with
// wamp.session.kill. Plain script, no build step; AutobahnJS and uPlot are vendored (make vendor).
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  var TICK = 1000;              // ms between polls
  var WINDOW = 120;             // points each chart keeps (two minutes)
  var MAX_SESSION_ROWS = 200;   // sessions the table shows (details are fetched once per session)
  var REGISTRATIONS_EVERY = 5;  // ticks between refreshes of the registrations table
  var KICK_REASON = "switchboard.admin.kicked";
  var CHARTS = {
    sessions: { title: "sessions", series: [["sessions", "#3867d6"]] },
    messages: { title: "messages/s", series: [["in", "#3867d6"], ["out", "#20bf6b"]] },
    deliveries: { title: "deliveries/s", series: [["deliveries", "#20bf6b"]] },
    bridge: { title: "bridge requests/s", series: [["requests", "#3867d6"], ["errors", "#eb3b5a"]] },
    errors: { title: "errors/s", series: [["WAMP errors", "#eb3b5a"], ["refused", "#fa8231"], ["dropped", "#8854d0"]] },
  };

  var state = {
    connection: null,
    session: null,
    ticket: null,        // what the session signs in with
    reusable: false,     // the admin secret signs in again; a ticket is used up
    refusal: null,       // why this page closed its own session (not role admin)
    previous: null,      // the last stats snapshot
    sessions: {},        // session id -> its table row
    registrations: {},   // registration id -> {uri, match}
    ticks: 0,
    busy: false,
    timer: null,
  };
  var charts = {};

  function setStatus(text, value) {
    $("status").textContent = text;
    $("status").dataset.state = value || text;
  }

  function showError(err) {
    var uri = err && err.error ? err.error : "";
    var message = err && err.args && err.args.length ? err.args[0] : (err && err.message) || String(err);
    $("error").textContent = uri ? message + " (" + uri + ")" : message;
  }

  // --- charts ------------------------------------------------------------------------------
  function makeCharts() {
    Object.keys(CHARTS).forEach(function (name) {
      var spec = CHARTS[name];
      var box = $("chart-" + name);
      var data = [[]].concat(spec.series.map(function () { return []; }));
      var chart = new uPlot({
        width: Math.max(300, box.clientWidth - 32),
        height: 160,
        series: [{}].concat(spec.series.map(function (s) {
          return { label: s[0], stroke: s[1], width: 2, points: { show: false } };
        })),
        axes: [{}, { size: 60 }],
        scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
        legend: { live: false },
      }, data, box);
      charts[name] = { chart: chart, data: data };
    });
  }

  function push(name, time, values) {
    var entry = charts[name];
    entry.data[0].push(time);
    values.forEach(function (v, i) { entry.data[i + 1].push(v); });
    if (entry.data[0].length > WINDOW) entry.data.forEach(function (column) { column.shift(); });
    entry.chart.setData(entry.data);
  }

  function rate(now, before, pick) {
    var dt = now.time - before.time;
    return dt > 0 ? Math.max(0, (pick(now) - pick(before)) / dt) : 0;
  }

  function round(value) { return value >= 10 ? Math.round(value) : Math.round(value * 10) / 10; }

  function onStats(stats) {
    var before = state.previous;
    state.previous = stats;
    $("now-sessions").textContent = stats.sessions.total;
    if (!before) return;  // rates need two snapshots
    var r = function (pick) { return rate(stats, before, pick); };
    var rates = {
      in: r(function (s) { return s.messages.received; }),
      out: r(function (s) { return s.messages.sent; }),
      deliveries: r(function (s) { return s.deliveries; }),
      bridge: r(function (s) { return s.bridge.requests; }),
      bridgeErrors: r(function (s) { return s.bridge.errors; }),
      errors: r(function (s) { return s.errors; }),
      refused: r(function (s) { return s.refused; }),
      dropped: r(function (s) { return s.dropped; }),
    };
    var t = stats.time;
    push("sessions", t, [stats.sessions.total]);
    push("messages", t, [rates.in, rates.out]);
    push("deliveries", t, [rates.deliveries]);
    push("bridge", t, [rates.bridge, rates.bridgeErrors]);
    push("errors", t, [rates.errors, rates.refused, rates.dropped]);
    $("now-messages-in").textContent = round(rates.in);
    $("now-messages-out").textContent = round(rates.out);
    $("now-deliveries").textContent = round(rates.deliveries);
    $("now-bridge").textContent = round(rates.bridge);
    $("now-errors").textContent = round(rates.errors + rates.refused + rates.dropped + rates.bridgeErrors);
    showTopics(stats, before);
  }

  // --- tables ------------------------------------------------------------------------------
  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text === undefined || text === null ? "–" : String(text);
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function showTopics(stats, before) {
    var earlier = {};
    (before ? before.topics : []).forEach(function (t) { earlier[t.id] = t.publications; });
    var dt = before ? stats.time - before.time : 0;
    var body = $("topics").tBodies[0];
    body.textContent = "";
    stats.topics.forEach(function (t) {
      var tr = document.createElement("tr");
      tr.dataset.uri = t.uri;
      cell(tr, t.uri);
      cell(tr, t.match);
      cell(tr, t.subscribers, "number subscribers");
      var per = dt > 0 && t.id in earlier ? round(Math.max(0, (t.publications - earlier[t.id]) / dt)) : "";
      cell(tr, per, "number rate");
      body.appendChild(tr);
    });
    $("topics-count").textContent = stats.topics_total > stats.topics.length
      ? stats.topics.length + " of " + stats.topics_total : String(stats.topics_total);
  }

  function transportOf(details) {
    var t = details.transport || {};
    if (!t.channel_framing) return "router";
    return t.channel_framing + (t.websocket_protocol ? " " + t.websocket_protocol : "");
  }

  function sessionRow(id, details, since) {
    var tr = document.createElement("tr");
    tr.dataset.session = String(id);
    cell(tr, details.authrole, "role");
    cell(tr, details.authid, "authid");
    cell(tr, transportOf(details), "transport");
    cell(tr, (details.transport || {}).peer, "peer");
    var when = since ? new Date(since * 1000) : null;
    var td = cell(tr, when ? when.toISOString().slice(0, 19).replace("T", " ") : null, "since");
    if (when) td.title = when.toString();
    var button = document.createElement("button");
    button.type = "button";
    button.className = "kick";
    button.textContent = "kick";
    if (id === state.session.id) {
      button.disabled = true;  // this dashboard: kicking it would only sign you out
      button.title = "this dashboard's own session";
    } else {
      button.addEventListener("click", function () { kick(id, tr, button); });
    }
    var last = document.createElement("td");
    last.appendChild(button);
    tr.appendChild(last);
    return tr;
  }

  function kick(id, row, button) {
    button.disabled = true;
    state.session.call("wamp.session.kill", [id], { reason: KICK_REASON, message: "kicked from the admin dashboard" })
      .then(function () { row.classList.add("gone"); }, function (err) { button.disabled = false; showError(err); });
  }

  function refreshSessions(session) {
    return session.call("wamp.session.list").then(function (ids) {
      var listed = {};
      ids.forEach(function (id) { listed[id] = true; });
      Object.keys(state.sessions).forEach(function (id) {
        if (!listed[id]) { state.sessions[id].remove(); delete state.sessions[id]; }
      });
      var shown = Object.keys(state.sessions).length;
      var fresh = ids.filter(function (id) { return !(id in state.sessions); }).slice(0, MAX_SESSION_ROWS - shown);
      $("sessions-count").textContent = ids.length > MAX_SESSION_ROWS ? MAX_SESSION_ROWS + " of " + ids.length : String(ids.length);
      if (!fresh.length) return;
      return Promise.all([
        session.call("switchboard.admin.since", [fresh]),
        Promise.all(fresh.map(function (id) {
          return session.call("wamp.session.get", [id]).catch(function () { return null; });  // left meanwhile
        })),
      ]).then(function (answers) {
        var since = answers[0], body = $("sessions").tBodies[0];
        fresh.forEach(function (id, i) {
          var details = answers[1][i];
          if (!details || id in state.sessions) return;
          state.sessions[id] = sessionRow(id, details, since[String(id)]);
          body.insertBefore(state.sessions[id], body.firstChild);  // newest first
        });
      });
    });
  }

  function refreshRegistrations(session) {
    return session.call("wamp.registration.list").then(function (lists) {
      var ids = [].concat(lists.exact || [], lists.prefix || [], lists.wildcard || []);
      return Promise.all(ids.map(function (id) {
        var known = state.registrations[id];
        var details = known ? Promise.resolve(known) : session.call("wamp.registration.get", [id]);
        return Promise.all([details, session.call("wamp.registration.count_callees", [id])])
          .catch(function () { return null; });  // gone meanwhile
      })).then(function (found) {
        var seen = {}, body = $("registrations").tBodies[0];
        body.textContent = "";
        found.filter(Boolean).sort(function (a, b) { return a[0].uri < b[0].uri ? -1 : 1; }).forEach(function (f) {
          seen[f[0].id] = state.registrations[f[0].id] = f[0];
          var tr = document.createElement("tr");
          tr.dataset.uri = f[0].uri;
          cell(tr, f[0].uri);
          cell(tr, f[0].match);
          cell(tr, f[1], "number");
          body.appendChild(tr);
        });
        state.registrations = seen;
        $("registrations-count").textContent = String(Object.keys(seen).length);
      });
    });
  }

  // --- polling -----------------------------------------------------------------------------
  function poll() {
    var session = state.session;
    if (!session || state.busy) return;  // a slow hub: skip a tick rather than pile up calls
    state.busy = true;
    var work = [session.call("switchboard.admin.stats").then(onStats), refreshSessions(session)];
    if (state.ticks++ % REGISTRATIONS_EVERY === 0) work.push(refreshRegistrations(session));
    Promise.all(work).then(function () { $("error").textContent = ""; }, showError)
      .then(function () { state.busy = false; });
  }

  // --- signing in --------------------------------------------------------------------------
  function connect(info) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var connection = new autobahn.Connection({
      url: scheme + location.host + info.ws_path,
      realm: info.realm,
      authmethods: ["ticket"],
      onchallenge: function (session, method) {
        if (method !== "ticket") throw new Error("cannot answer a " + method + " challenge");
        return state.ticket;
      },
      max_retries: state.reusable ? -1 : 0,
      max_retry_delay: 10,
    });
    state.connection = connection;
    setStatus("connecting");
    connection.onopen = function (session, details) {
      if (details.authrole !== "admin") {
        state.refusal = "signed in as " + details.authid + " with role " + details.authrole + ", not admin";
        connection.close();
        return;
      }
      state.session = session;
      state.previous = null;
      Object.keys(state.sessions).forEach(function (id) { state.sessions[id].remove(); });
      state.sessions = {};
      $("signin").hidden = true;
      $("dashboard").hidden = false;
      if (!Object.keys(charts).length) makeCharts();
      $("whoami").textContent = "as " + details.authid + " (session " + session.id + ")";
      setStatus("online");
      $("error").textContent = "";
      poll();
      state.timer = state.timer || setInterval(poll, TICK);
    };
    connection.onclose = function (reason, details) {
      state.session = null;
      state.busy = false;
      var refused = Boolean(state.refusal) || (details && details.reason && /error|not_authorized|ticket/.test(details.reason));
      if ((reason === "lost" || reason === "unreachable") && state.reusable && !refused && details.will_retry) {
        setStatus("reconnecting");
        return false;  // AutobahnJS retries
      }
      clearInterval(state.timer);
      state.timer = null;
      setStatus(refused ? "refused" : "signed out", refused ? "refused" : "signed-out");
      if (state.refusal) showError(state.refusal);
      else if (details && details.reason) showError({ error: details.reason, args: [details.message || "closed"] });
      state.refusal = null;
      $("signin").hidden = false;
      return true;  // stop
    };
    connection.open();
  }

  function signIn(info, ticket, reusable) {
    if (state.connection) { try { state.connection.close(); } catch (e) { /* not open */ } }
    state.ticket = ticket;
    state.reusable = reusable;
    connect(info);
  }

  function start(info) {
    $("signin-form").addEventListener("submit", function (event) {
      event.preventDefault();
      signIn(info, $("secret").value, true);
      $("secret").value = "";
    });
    var fromLink = /(?:^#|&)ticket=([^&]+)/.exec(location.hash);
    if (fromLink) {
      history.replaceState(null, "", location.pathname + location.search);  // out of the address bar
      signIn(info, decodeURIComponent(fromLink[1]), false);
    }
  }

  window.dashboard = { charts: charts, state: state };
  fetch("info").then(function (r) { return r.json(); }).then(start, function (err) {
    showError("cannot load hub info: " + err);
  });
})();
