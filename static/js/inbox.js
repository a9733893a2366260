/* The inbox page: live updates, the unread count in the tab's title and the opt-in alert,
   keyboard shortcuts, the composers' counters, the reply's canned responses and the "New
   message" form's contact search.

   Live updates (docs/ARCHITECTURE.md#live-updates): poll the tenant's inbox version every second; when it moved,
   fetch the server-rendered fragments and swap them in. The fragments are parsed with
   DOMParser (inert: nothing in them runs) and moved into the page as nodes; message text
   only ever reaches the page through Django's autoescaping or textContent. */
(function () {
  "use strict";
  var POLL_MS = 1000;
  // A tab in the background polls only when its alert is on, and more slowly.
  var HIDDEN_POLL_EVERY = 5;
  var NOTIFY_KEY = "inbox.notify";
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

  /* The "New message" form's *To* box: as the user types, up to 8 contacts matching by
     name or number are listed (a listbox the input drives, like the canned responses);
     choosing one puts its number in the box. Names reach the page only as textContent. */
  function recipientSearch() {
    var input = document.getElementById("id_to");
    var list = document.getElementById("to-options");
    if (!input || !list || !input.dataset.suggestUrl) return;
    var found = [];
    var active = -1;
    var timer = null;
    var asked = null;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", "to-options");
    input.setAttribute("aria-expanded", "false");

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }
    function choose(index) {
      active = index;
      Array.prototype.forEach.call(list.children, function (option, i) {
        option.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      input.setAttribute("aria-activedescendant", list.children[index].id);
    }
    function pick(index) {
      input.value = found[index].phone;
      asked = input.value;
      close();
      input.focus();
    }
    function option(contact, index) {
      var item = document.createElement("li");
      item.id = "to-option-" + index;
      item.setAttribute("role", "option");
      var name = document.createElement("span");
      name.className = "shortcode";
      name.textContent = contact.name || contact.phone;
      item.append(name);
      if (contact.name) {
        var phone = document.createElement("span");
        phone.className = "preview";
        phone.textContent = contact.phone;
        item.append(" ", phone);
      }
      item.addEventListener("mousedown", function (event) { event.preventDefault(); });
      item.addEventListener("click", function () { pick(index); });
      return item;
    }
    function search() {
      var q = input.value.trim();
      if (q === asked) return;
      asked = q;
      if (!q) { close(); return; }
      fetch(input.dataset.suggestUrl + "?q=" + encodeURIComponent(q),
            { credentials: "same-origin", cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body || input.value.trim() !== q) return;
          found = body.results;
          if (!found.length) { close(); return; }
          list.replaceChildren.apply(list, found.map(option));
          list.hidden = false;
          input.setAttribute("aria-expanded", "true");
          active = -1;
        })
        .catch(function () { /* offline: the user types the number */ });
    }
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, 150);
    });
    input.addEventListener("blur", close);
    input.addEventListener("keydown", function (event) {
      if (list.hidden || event.isComposing) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        var step = event.key === "ArrowDown" ? 1 : -1;
        choose(active < 0 ? (step > 0 ? 0 : found.length - 1)
                          : (active + step + found.length) % found.length);
      } else if (event.key === "Enter" && active >= 0) {
        pick(active);
      } else if (event.key === "Escape") {
        close();
      } else {
        return;
      }
      event.preventDefault();
    });
  }

  /* The opt-in alert: a checkbox, remembered in localStorage, plays a short sound when the
     open conversations' unread messages grow and, once the browser allows it (asked only
     when the box is ticked), shows a desktop notification while the tab is not in front. */
  function notifier() {
    var box = document.getElementById("notify");
    var toggle = document.getElementById("notify-toggle");
    var status = document.getElementById("notify-status");
    if (!box || !toggle) return { on: function () { return false; }, alert: function () {} };
    var audio = null;
    box.hidden = false;
    try { toggle.checked = window.localStorage.getItem(NOTIFY_KEY) === "on"; } catch (e) { /* private mode */ }

    function say(text) { if (status) status.textContent = text; }
    function sound() {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!audio && Context) audio = new Context();
      return audio;
    }
    function describe() {
      if (!("Notification" in window)) say("This browser shows no desktop notifications; the sound plays.");
      else if (Notification.permission === "denied") say("Desktop notifications are blocked in this browser's settings; the sound plays.");
      else say("");
    }
    toggle.addEventListener("change", function () {
      try { window.localStorage.setItem(NOTIFY_KEY, toggle.checked ? "on" : "off"); } catch (e) { /* private mode */ }
      if (!toggle.checked) { say(""); return; }
      sound();  // made during the click, so the browser lets it play later
      if ("Notification" in window && Notification.permission === "default") {
        Notification.requestPermission().then(describe, describe);
      } else {
        describe();
      }
    });
    if (toggle.checked) describe();

    function beep() {
      var context = sound();
      if (!context) return;
      if (context.state === "suspended") context.resume().catch(function () {});
      var tone = context.createOscillator();
      var gain = context.createGain();
      var now = context.currentTime;
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, now);
      gain.gain.exponentialRampToValueAtTime(0.2, now + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.35);
      tone.connect(gain).connect(context.destination);
      tone.start(now);
      tone.stop(now + 0.4);
    }

    return {
      on: function () { return toggle.checked; },
      alert: function (unreadConversations) {
        if (!toggle.checked) return;
        beep();
        if (!("Notification" in window) || Notification.permission !== "granted") return;
        if (!document.hidden && document.hasFocus()) return;
        var first = document.querySelector("#inbox-list .conversation.unread");
        var who = first ? first.querySelector(".who") : null;
        var preview = first ? first.querySelector(".preview") : null;
        var notice = new Notification(who ? "New message from " + who.textContent : "New message", {
          body: preview ? preview.textContent : unreadConversations + " conversations with unread messages",
          tag: "inbox"
        });
        notice.onclick = function () { window.focus(); notice.close(); };
      }
    };
  }

  function start() {
    var root = document.getElementById("inbox");
    if (!root) return;
    var version = root.dataset.version;
    var stale = false;
    var busy = false;
    var ticks = 0;
    var reply = document.getElementById("reply-body");
    var send = document.getElementById("send");
    var blocked = document.getElementById("reply-blocked");
    var alerts = notifier();

    // Every composer's counter (the reply's, the new message's) follows its text; over
    // the 10-segment limit it says by how much and its Send waits, as the server would
    // refuse the text.
    function counted(box) {
      var counter = document.getElementById(box.dataset.counter);
      var button = document.getElementById(box.dataset.send || "");
      function count() {
        if (!counter || !window.smsCounter) return;
        var analysis = window.smsCounter.analyse(box.value);
        var over = window.smsCounter.overBy(analysis) > 0;
        counter.textContent = window.smsCounter.describe(analysis);
        counter.classList.toggle("over", over);
        if (button && !box.disabled) button.disabled = over;
      }
      box.addEventListener("input", count);
      count();
      return count;
    }
    var count = reply ? counted(reply) : function () {};
    Array.prototype.forEach.call(
      document.querySelectorAll("textarea[data-counter]:not(#reply-body)"), counted);
    cannedResponses(reply, count);
    recipientSearch();

    // "(3) Inbox": the open conversations with unread messages, in the tab's title.
    var bareTitle = document.title.replace(/^\(\d+\) /, "");
    function unread() {
      var folders = document.querySelector("#inbox-folders [data-unread]");
      return folders ? { conversations: Number(folders.dataset.unread) || 0,
                         messages: Number(folders.dataset.unreadMessages) || 0 } : null;
    }
    var lastUnread = unread();
    function showUnread() {
      var now = unread();
      if (!now) return;
      document.title = (now.conversations ? "(" + now.conversations + ") " : "") + bareTitle;
      if (lastUnread && now.messages > lastUnread.messages) alerts.alert(now.conversations);
      lastUnread = now;
    }

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
      showUnread();
      if (wasAtBottom) toBottom();
    }

    function poll() {
      ticks += 1;
      if (busy) return;
      if (document.hidden && !(alerts.on() && ticks % HIDDEN_POLL_EVERY === 0)) return;
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
