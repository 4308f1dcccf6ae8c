// Switchboard demo page: connection state, live clock, demo.add2, a chat room and its presence list.
// Plain script (no build step) on web/switchboard.js, which keeps the page connected, redoes every
// subscription after a reconnect and, for the chat, recovers what was missed from history.
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  var ROOM_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
  var RECENT = 50;  // messages shown from history when a room opens
  var CALL_TIMEOUT = 10000;
  var state = {
    hub: null,
    room: null,
    nick: localStorage.getItem("switchboard.nick") || "guest-" + Math.random().toString(36).slice(2, 6),
    chat: null,       // the room's subscription
    presence: null,   // the room's presence
  };

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
    state.hub.call("chat.rooms").then(function (rooms) {
      var list = $("room-list");
      list.replaceChildren();
      rooms.forEach(function (r) {
        var option = document.createElement("option");
        option.value = r.room;
        list.append(option);
      });
    }, function () { /* offline: the list refreshes on the next room change */ });
  }

  // --- presence ----------------------------------------------------------------------------
  function renderPresence(members) {
    var ul = $("presence");
    ul.replaceChildren();
    members
      .sort(function (a, b) { return a.nick.localeCompare(b.nick) || a.id.localeCompare(b.id); })
      .forEach(function (m) {
        var li = document.createElement("li");
        li.textContent = m.nick;
        li.dataset.member = m.id;
        if (state.presence && state.presence.isMe(m)) li.className = "me";
        ul.append(li);
      });
  }

  // --- rooms -------------------------------------------------------------------------------
  function enterRoom(room) {
    var hub = state.hub;
    if (room !== state.room) {
      if (state.chat) state.chat.unsubscribe();
      if (state.presence) state.presence.leave().catch(function () {});
      $("messages").replaceChildren();
      $("presence").replaceChildren();
      state.room = room;
      state.chat = hub.subscribe("chat.room." + room, function (args) { addMessage(args[0]); },
        { recover: true, history: RECENT });
      state.presence = hub.presence(room, state.nick, renderPresence);
    } else {
      state.presence.rename(state.nick);
    }
    $("chat-topic").textContent = "chat.room." + room;
    $("presence-room").textContent = room;
    document.body.dataset.room = room;
    refreshRooms();
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
    if (state.hub) enterRoom(room);
  });

  $("post-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = $("text");
    state.hub.call("chat.post", [state.room, input.value, state.nick], {}, { timeout: CALL_TIMEOUT })
      .then(function (message) {
        clearError();
        input.value = "";
        addMessage(message);
      }, showError);
  });

  $("add2-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var a = parseFloat($("add2-a").value), b = parseFloat($("add2-b").value);
    state.hub.call("demo.add2", [a, b], {}, { timeout: CALL_TIMEOUT }).then(function (sum) {
      $("add2-result").textContent = sum;
    }, function (err) {
      $("add2-result").textContent = err.error || String(err);
    });
  });

  // --- connection --------------------------------------------------------------------------
  function start(info) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    // info.ws_urls: a cluster's nodes (SWITCHBOARD_WS_URLS); this page's own node first, then the others
    var hub = Switchboard.connect({ url: scheme + location.host + info.ws_path, urls: info.ws_urls || [],
      realm: info.realm });
    state.hub = hub;
    hub.on("state", function (s) {
      var text = s === "closed" ? "offline" : s;
      $("status").textContent = text;
      $("status").dataset.state = text;
    });
    hub.on("session", function (session) {
      document.body.dataset.session = session.id;
      document.body.dataset.url = hub.url;  // the node it is on (a cluster's page moves when its node dies)
      $("status").title = hub.url;
      clearError();
    });
    hub.subscribe("clock.tick", onTick, { get_retained: true });
    enterRoom($("room").value);
  }

  fetch("info").then(function (r) { return r.json(); }).then(start, function (err) {
    $("status").textContent = "offline";
    $("status").dataset.state = "offline";
    showError("cannot load hub info: " + err);
  });
})();
