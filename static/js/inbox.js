/* The inbox page: live updates, keyboard shortcuts, the composer's counter and its canned
   responses.

   Live updates (docs/ARCHITECTURE.md#live-updates): poll the tenant's inbox version every second; when it moved,
   fetch the server-rendered fragments and swap them in. The fragments are parsed with
   DOMParser (inert: nothing in them runs) and moved into the page as nodes; message text
   only ever reaches the page through Django's autoescaping or textContent. */
(function () {
  "use strict";
  var POLL_MS = 1000;
  var FRAGMENTS = ["inbox-folders", "inbox-list", "thread-header", "thread-messages",
                   "contact-consent"];

  function isTyping(element) {
    if (!element) return false;
    var tag = element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  function isControl(element) {
    return isTyping(element) || (element && element.tagName === "BUTTON");
  }

  /* Canned responses in the reply box: "/" and part of a shortcode at its start opens the
     list of matches, a listbox the textarea drives through aria-activedescendant (focus
     stays in the textarea, as in a combobox): up and down choose, Enter or Tab inserts,
     Escape closes; a click inserts too. The chosen body replaces the "/shortcode". The
     *Insert* button beside the list of every response inserts at the cursor (without this
     script, the server adds it to the text). Bodies come from a json_script element and
     reach the page only as textContent or the textarea's value. */
  function cannedResponses(reply, changed) {
    var data = document.getElementById("canned-responses");
    var list = document.getElementById("canned-list");
    if (!reply || !data || !list) return;
    var responses = JSON.parse(data.textContent);
    var status = document.getElementById("canned-status");
    var matches = [];
    var active = -1;
    var dismissed = false;

    function typedShortcode() {
      if (reply.selectionStart !== reply.selectionEnd) return null;
      var typed = /^\/([a-z0-9_-]*)$/i.exec(reply.value.slice(0, reply.selectionStart));
      return typed ? typed[1].toLowerCase() : null;
    }

    function close() {
      list.hidden = true;
      reply.removeAttribute("aria-activedescendant");
      matches = [];
      active = -1;
      status.textContent = "";
    }

    function choose(index) {
      active = index;
      Array.prototype.forEach.call(list.children, function (option, i) {
        option.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      reply.setAttribute("aria-activedescendant", list.children[index].id);
      list.children[index].scrollIntoView({ block: "nearest" });
    }

    function insert(index) {
      // Replace the "/shortcode"; keep a word that followed it apart.
      var after = reply.value.slice(reply.selectionStart);
      var gap = after && !/^\s/.test(after) ? " " : "";
      reply.setRangeText(matches[index].body + gap, 0, reply.selectionStart, "end");
      close();
      changed();
      reply.focus();
    }

    function option(response, index) {
      var item = document.createElement("li");
      item.id = "canned-option-" + index;
      item.setAttribute("role", "option");
      var code = document.createElement("span");
      code.className = "shortcode";
      code.textContent = "/" + response.shortcode;
      var preview = document.createElement("span");
      preview.className = "preview";
      preview.textContent = response.body;
      item.append(code, " ", preview);
      // Keep the focus (and the cursor) in the reply box while clicking.
      item.addEventListener("mousedown", function (event) { event.preventDefault(); });
      item.addEventListener("click", function () { insert(index); });
      return item;
    }

    function update() {
      var typed = dismissed ? null : typedShortcode();
      if (typed === null) { if (!list.hidden) close(); return; }
      // Shortcodes that start with what was typed first, then those that contain it.
      var starting = responses.filter(function (r) { return r.shortcode.indexOf(typed) === 0; });
      matches = starting.concat(responses.filter(function (r) {
        return r.shortcode.indexOf(typed) > 0;
      }));
      if (!matches.length) {
        close();
        status.textContent = "No canned response matches.";
        return;
      }
      list.replaceChildren.apply(list, matches.map(option));
      list.hidden = false;
      choose(0);
      status.textContent = matches.length + " canned response" + (matches.length === 1 ? "" : "s") +
        ": up and down to choose, Enter to insert, Escape to close.";
    }

    reply.addEventListener("input", function () { dismissed = false; update(); });
    reply.addEventListener("click", update);
    reply.addEventListener("blur", function () { if (!list.hidden) close(); });
    reply.addEventListener("keyup", function (event) {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].indexOf(event.key) >= 0) update();
    });
    reply.addEventListener("keydown", function (event) {
      if (list.hidden || event.isComposing) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        choose((active + (event.key === "ArrowDown" ? 1 : -1) + matches.length) % matches.length);
      } else if (event.key === "Enter" || (event.key === "Tab" && !event.shiftKey)) {
        insert(active);
      } else if (event.key === "Escape") {
        dismissed = true;  // until the text changes
        close();
      } else {
        return;
      }
      event.preventDefault();
    });

    var picker = document.getElementById("canned-select");
    var button = document.getElementById("canned-insert");
    var focused = false;  // before the first focus, the cursor is nowhere: add at the end
    reply.addEventListener("focus", function () { focused = true; });
    if (picker && button) {
      button.addEventListener("click", function (event) {
        var chosen = responses.find(function (r) { return r.shortcode === picker.value; });
        if (!chosen) return;
        event.preventDefault();
        var start = focused ? reply.selectionStart : reply.value.length;
        var end = focused ? reply.selectionEnd : reply.value.length;
        var before = reply.value.slice(0, start);
        var gap = before && !/\s$/.test(before) ? " " : "";
        reply.setRangeText(gap + chosen.body, start, end, "end");
        changed();
        reply.focus();
      });
    }
  }

  function start() {
    var root = document.getElementById("inbox");
    if (!root) return;
    var version = root.dataset.version;
    var stale = false;
    var busy = false;
    var reply = document.getElementById("reply-body");
    var counter = document.getElementById("reply-counter");
    var send = document.getElementById("send");
    var blocked = document.getElementById("reply-blocked");

    function count() {
      if (reply && counter && window.smsCounter) {
        counter.textContent = window.smsCounter.describe(window.smsCounter.analyse(reply.value));
      }
    }
    if (reply) reply.addEventListener("input", count);
    count();
    cannedResponses(reply, count);

    function messagesBox() { return document.getElementById("thread-messages"); }
    function atBottom(box) { return !box || box.scrollHeight - box.scrollTop - box.clientHeight < 40; }
    function toBottom() { var box = messagesBox(); if (box) box.scrollTop = box.scrollHeight; }
    toBottom();

    function applyReplyState() {
      var box = messagesBox();
      if (!box || !reply) return;
      var reason = box.dataset.replyBlocked || "";
      reply.disabled = reason !== "";
      if (send) send.disabled = reason !== "";
      if (blocked) { blocked.textContent = reason; blocked.hidden = reason === ""; }
      ["canned-select", "canned-insert"].forEach(function (id) {
        var control = document.getElementById(id);
        if (control) control.disabled = reason !== "";
      });
    }

    function swap(html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      var wasAtBottom = atBottom(messagesBox());
      var focused = document.activeElement;
      var focusKey = focused && focused.dataset ? focused.dataset.conversation : undefined;
      FRAGMENTS.forEach(function (id) {
        var current = document.getElementById(id);
        var next = fresh.getElementById(id);
        if (!current || !next) return;
        // Never pull a control from under the user's hands; try again at the next poll.
        if (current.contains(focused) && isControl(focused)) { stale = true; return; }
        current.replaceWith(document.adoptNode(next));
      });
      if (focusKey) {
        var link = document.querySelector('#inbox-list a[data-conversation="' + focusKey + '"]');
        if (link) link.focus();
      }
      applyReplyState();
      if (wasAtBottom) toBottom();
    }

    function poll() {
      if (busy || document.hidden) return;
      busy = true;
      fetch(root.dataset.versionUrl, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body) return null;
          var moved = String(body.version) !== String(version);
          if (!moved && !stale) return null;
          stale = false;
          version = String(body.version);
          return fetch(root.dataset.fragmentsUrl, { credentials: "same-origin", cache: "no-store" })
            .then(function (response) { return response.ok ? response.text() : null; })
            .then(function (html) { if (html !== null) swap(html); });
        })
        .catch(function () { /* offline for a moment: the next poll tries again */ })
        .then(function () { busy = false; });
    }
    window.setInterval(poll, POLL_MS);
    document.addEventListener("visibilitychange", poll);

    var help = document.getElementById("shortcuts");
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
      if (help && help.open) return;
      var links = Array.prototype.slice.call(
        document.querySelectorAll("#inbox-list a[data-conversation]"));
      var current = links.findIndex(function (a) { return a.getAttribute("aria-current") === "true"; });
      switch (event.key) {
        case "j":
        case "k": {
          if (!links.length) return;
          var step = event.key === "j" ? 1 : -1;
          var index = current < 0 ? 0 : Math.min(Math.max(current + step, 0), links.length - 1);
          if (index !== current) window.location.assign(links[index].href);
          break;
        }
        case "r":
          if (!reply || reply.disabled) return;
          reply.focus();
          break;
        case "e": {
          var resolve = document.getElementById("resolve-form");
          if (!resolve) return;
          resolve.requestSubmit();
          break;
        }
        case "/": {
          var search = document.getElementById("inbox-search");
          if (!search) return;
          search.focus();
          search.select();
          break;
        }
        case "?":
          if (help) help.showModal();
          break;
        default:
          return;
      }
      event.preventDefault();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
