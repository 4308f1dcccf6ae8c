// Switchboard demo page: connection state, live clock, demo.add2, a chat room and its presence list.
// Plain script (no build step) over AutobahnJS. Every (re)connect gets a fresh WAMP session, so all
// subscriptions and the presence join are redone in onSession().
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  var ROOM_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
  var RECENT = 50;  // messages shown from history when a room opens
  var state = {
    session: null,
    room: null,
    nick: localStorage.getItem("switchboard.nick") || "guest-" + Math.random().toString(36).slice(2, 6),
    // Shared by this browser's tabs, so presence counts the person once, not each tab.
    client: localStorage.getItem("switchboard.client") || (function () {
      var id = "c" + Array.from(crypto.getRandomValues(new Uint8Array(12)),
        function (b) { return b.toString(16).padStart(2, "0"); }).join("");
      localStorage.setItem("switchboard.client", id);
      return id;
    })(),
    roomSubs: [],
    members: new Map(),
    // The room's message stream: after every (re)connect it recovers what was missed from history,
    // once and in order (web/recovery.js).
    stream: null,
  };

  function setStatus(text) {
    $("status").textContent = text;
    $("status").dataset.state = text;
  }

  function showError(err) {
    var uri = err && err.error ? err.error : String(err);
    var message = err && err.args && err.args.length ? err.args[0] : "";
    $("chat-error").textContent = message ? message + " (" + uri + ")" : uri;
  }

  function clearError() { $("chat-error").textContent = ""; }

  // --- clock -------------------------------------------------------------------------------
  function onTick(args) {
    $("clock").textContent = args[0].time;
    $("clock").setAttribute("datetime", args[0].time);
  }

  // --- chat --------------------------------------------------------------------------------
  function addMessage(message) {
    if (document.querySelector('#messages li[data-id="' + message.id + '"]')) return;
    var li = document.createElement("li");
    li.dataset.id = message.id;
    var nick = document.createElement("span");
    nick.className = "nick";
    nick.textContent = message.author.nick;
    var text = document.createElement("span");
    text.className = "text";
    text.textContent = message.text;
    var time = document.createElement("span");
    time.className = "time";
    time.textContent = message.time.slice(11, 19);
    li.append(nick, text, time);
    $("messages").append(li);
    $("messages").scrollTop = $("messages").scrollHeight;
  }

  function refreshRooms() {
    if (!state.session) return;
    state.session.call("chat.rooms").then(function (rooms) {
      var list = $("room-list");
      list.replaceChildren();
      rooms.forEach(function (r) {
        var option = document.createElement("option");
        option.value = r.room;
        list.append(option);
      });
    }, showError);
  }

  // --- presence ----------------------------------------------------------------------------
  function renderPresence() {
    var ul = $("presence");
    ul.replaceChildren();
    Array.from(state.members.values())
      .sort(function (a, b) { return a.nick.localeCompare(b.nick) || a.id.localeCompare(b.id); })
      .forEach(function (m) {
        var li = document.createElement("li");
        li.textContent = m.nick;
        li.dataset.member = m.id;
        if (m.id === "client:" + state.client) li.className = "me";
        ul.append(li);
      });
  }

  function setMembers(members) {
    state.members = new Map(members.map(function (m) { return [m.id, m]; }));
    renderPresence();
  }

  function onPresence(args) {
    var event = args[0];
    if (event.room !== state.room) return;
    if (event.event === "join") state.members.set(event.member.id, event.member);
    else state.members.delete(event.member.id);
    renderPresence();
  }

  function joinPresence() {
    return state.session.call("presence.join", [state.room, state.nick, state.client]).then(setMembers);
  }

  // --- rooms -------------------------------------------------------------------------------
  function enterRoom(room) {
    var session = state.session;
    var previous = state.room;
    var leaving = state.roomSubs.map(function (sub) { return session.unsubscribe(sub).catch(function () {}); });
    state.roomSubs = [];
    if (previous && previous !== room) {
      leaving.push(session.call("presence.leave", [previous]).catch(function () {}));
    }
    if (previous !== room || !state.stream) {
      $("messages").replaceChildren();
      state.stream = new SwitchboardRecovery.Stream(function (args) { addMessage(args[0]); });
    }
    var stream = state.stream;
    state.room = room;
    $("chat-topic").textContent = "chat.room." + room;
    $("presence-room").textContent = room;
    return Promise.all(leaving).then(function () {
      return Promise.all([
        session.subscribe("chat.room." + room, function (args, kwargs, details) { stream.live(args, kwargs, details); }),
        session.subscribe("presence.room." + room, onPresence),
      ]);
    }).then(function (subs) {
      state.roomSubs = subs;
      var call = function (procedure, args, kwargs) { return session.call(procedure, args, kwargs); };
      return SwitchboardRecovery.recover(call, "chat.room." + room, stream, RECENT);
    }).then(function () {
      return joinPresence();
    }).then(function () {
      document.body.dataset.room = room;
      refreshRooms();
    });
  }

  // --- connection --------------------------------------------------------------------------
  function onSession(session) {
    state.session = session;
    document.body.dataset.session = session.id;
    setStatus("online");
    clearError();
    state.roomSubs = [];  // subscriptions died with the previous session
    session.subscribe("clock.tick", onTick, { get_retained: true });
    // The presence service asks everyone to join again when it (re)starts with an empty roster.
    session.subscribe("presence.sync", function () { if (state.room) joinPresence().catch(showError); });
    enterRoom(state.room || $("room").value).catch(showError);
  }

  function connect(info) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var connection = new autobahn.Connection({
      url: scheme + location.host + info.ws_path,
      realm: info.realm,
      max_retries: -1,            // keep trying for ever
      initial_retry_delay: 0.5,
      max_retry_delay: 5,
      retry_delay_growth: 1.5,
      retry_delay_jitter: 0.2,
    });
    connection.onopen = onSession;
    connection.onclose = function (reason, details) {
      state.session = null;
      setStatus(details && details.will_retry ? "reconnecting" : "offline");
      return false;  // let AutobahnJS retry
    };
    connection.open();
  }

  // --- forms -------------------------------------------------------------------------------
  $("nick").value = state.nick;

  $("room-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var room = $("room").value.trim();
    var nick = $("nick").value.trim();
    if (!ROOM_PATTERN.test(room)) {
      showError({ error: "switchboard.error.invalid_room", args: ["room: 1-32 of a-z, 0-9, _ or -"] });
      return;
    }
    clearError();
    state.nick = nick || state.nick;
    localStorage.setItem("switchboard.nick", state.nick);
    if (state.session) enterRoom(room).catch(showError);
  });

  $("post-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (!state.session) { showError("not connected"); return; }
    var input = $("text");
    state.session.call("chat.post", [state.room, input.value, state.nick]).then(function (message) {
      clearError();
      input.value = "";
      addMessage(message);
    }, showError);
  });

  $("add2-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (!state.session) { $("add2-result").textContent = "not connected"; return; }
    var a = parseFloat($("add2-a").value), b = parseFloat($("add2-b").value);
    state.session.call("demo.add2", [a, b]).then(function (sum) {
      $("add2-result").textContent = sum;
    }, function (err) {
      $("add2-result").textContent = err.error || String(err);
    });
  });

  fetch("info").then(function (r) { return r.json(); }).then(connect, function (err) {
    setStatus("offline");
    showError("cannot load hub info: " + err);
  });
})();
