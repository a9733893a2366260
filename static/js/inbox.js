/* The inbox page: live updates, keyboard shortcuts and the composer's counter.

   Live updates (DESIGN §9): poll the tenant's inbox version every second; when it moved,
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
