// The example page: live notes, django.greet and private notifications, over switchboard.js.
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  var hub = Switchboard.connect();

  hub.on("state", function (state) {
    $("status").textContent = state;
    $("status").dataset.state = state;
    document.body.dataset.authrole = hub.authrole || "";
  });

  // --- notes ---------------------------------------------------------------------------------
  function renderNote(note) {
    var li = document.querySelector('#notes li[data-id="' + note.id + '"]');
    if (!li) {
      li = document.createElement("li");
      li.dataset.id = note.id;
      li.innerHTML = '<strong class="title"></strong> <span class="body"></span>';
      $("notes").append(li);
    }
    li.querySelector(".title").textContent = note.title;
    li.querySelector(".body").textContent = note.body;
    li.classList.remove("flash");
    void li.offsetWidth;  // restart the highlight
    li.classList.add("flash");
  }

  function removeNote(note) {
    var li = document.querySelector('#notes li[data-id="' + note.id + '"]');
    if (li) li.remove();
  }

  hub.subscribe("public.notes.created", function (args) { renderNote(args[0]); });
  hub.subscribe("public.notes.updated", function (args) { renderNote(args[0]); });
  hub.subscribe("public.notes.deleted", function (args) { removeNote(args[0]); });

  // After every (re)connect, catch up with what changed while the page was not listening.
  hub.on("session", function () {
    hub.call("django.notes.list").then(function (notes) {
      var ids = new Set(notes.map(function (n) { return String(n.id); }));
      document.querySelectorAll("#notes li").forEach(function (li) { if (!ids.has(li.dataset.id)) li.remove(); });
      notes.forEach(function (note) {
        var li = document.querySelector('#notes li[data-id="' + note.id + '"]');
        if (!li) renderNote(note);
      });
    }, function (err) { console.warn("django.notes.list failed", err); });
  });

  // --- django.greet ----------------------------------------------------------------------------
  $("greet-form").addEventListener("submit", function (e) {
    e.preventDefault();
    hub.call("django.greet", [$("greet-name").value]).then(function (result) {
      $("greet-result").textContent = result.text;
      $("greet-result").dataset.authid = result.authid || "";
    }, function (err) {
      $("greet-result").textContent = (err.args && err.args[0] ? err.args[0] + " " : "") + "(" + err.error + ")";
    });
  });

  // --- private notifications -------------------------------------------------------------------
  if ($("notifications")) {
    // user.* topics keep history: show the latest on open, and whatever arrived while offline.
    hub.subscribePrivate("notifications", function (args) {
      var li = document.createElement("li");
      li.textContent = args[0].text;
      $("notifications").append(li);
    }, { recover: true, history: 20 });
    $("ping").addEventListener("click", function () {
      hub.publish("django.events.ping", [{ at: new Date().toISOString() }]).catch(function (err) {
        console.warn("ping refused", err);
      });
    });
  }
})();
