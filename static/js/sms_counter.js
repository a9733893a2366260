/* The composer's counter: how the text will be sent and what it costs, as the user types.
   Mirrors core/encoding.py (GSM 03.38 basic table + extension table, UCS-2 otherwise;
   160/153 and 70/67 units; a two-unit character never straddles segments); the tests compare
   the two on the same texts. */
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
              "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "^{}\\[~]|€\f";
  var LIMITS = { "GSM-7": [160, 153], "UCS-2": [70, 67] };
  var MAX_SEGMENTS = 10;

  function culprit(text) {
    for (var ch of text) {  // by code point, as Python iterates a str
      if (BASIC.indexOf(ch) < 0 && EXTENSION.indexOf(ch) < 0) return ch;
    }
    return null;
  }

  function cost(ch, encoding) {
    if (encoding === "GSM-7") return EXTENSION.indexOf(ch) >= 0 ? 2 : 1;
    return ch.codePointAt(0) > 0xFFFF ? 2 : 1;
  }

  function analyse(text) {
    var bad = culprit(text);
    var encoding = bad === null ? "GSM-7" : "UCS-2";
    var single = LIMITS[encoding][0], concatenated = LIMITS[encoding][1];
    var units = 0, segments = 0, fill = 0;
    for (var ch of text) {
      var c = cost(ch, encoding);
      units += c;
      if (segments === 0 || fill + c > concatenated) { segments += 1; fill = 0; }
      fill += c;
    }
    if (units <= single) { segments = Math.min(segments, 1); fill = units; }
    var perSegment = segments > 1 ? concatenated : single;
    return { encoding: encoding, segments: segments, units: units, per_segment: perSegment,
             remaining: perSegment - fill, culprit: bad };
  }

  function overBy(a) {  // segments beyond what any send path accepts (messaging/outbound.py)
    return Math.max(0, a.segments - MAX_SEGMENTS);
  }

  function describe(a) {
    var over = overBy(a);
    return a.units + " · " + a.segments + " segment" + (a.segments === 1 ? "" : "s") +
           " · " + (over ? "over the " + MAX_SEGMENTS + "-segment limit by " + over +
                           " segment" + (over === 1 ? "" : "s")
                         : a.remaining + " left") +
           " · " + a.encoding +
           (a.culprit === null ? "" : " because of “" + a.culprit + "”");
  }

  /* A textarea with data-sms-counter="ID" (the counter's element) and optionally
     data-sms-send="ID" (its form's send button) follows itself as the user types: the
     counter says what the text costs, and over the limit it says by how much, marks the
     field invalid and disables the button, so nothing is sent that would be refused. The
     first keystroke after a refusal hides the now stale error of its field. */
  function attach(textarea) {
    var counter = document.getElementById(textarea.getAttribute("data-sms-counter"));
    var send = document.getElementById(textarea.getAttribute("data-sms-send") || "");
    var field = textarea.closest(".field") || textarea.parentNode;
    var marked = false;  // whether aria-invalid is ours (over the limit), not the server's
    function update() {
      var a = analyse(textarea.value);
      var over = overBy(a) > 0;
      if (counter) {
        counter.textContent = describe(a);
        counter.classList.toggle("over", over);
      }
      if (over) {
        textarea.setAttribute("aria-invalid", "true");
        marked = true;
      } else if (marked) {
        textarea.removeAttribute("aria-invalid");
        marked = false;
      }
      if (send) send.disabled = over;
    }
    textarea.addEventListener("input", function () {
      // The server's refusal was about the text as it was: it goes with the first edit.
      field.querySelectorAll(".error").forEach(function (error) { error.hidden = true; });
      if (!marked) textarea.removeAttribute("aria-invalid");
      update();
    });
    update();
  }

  window.smsCounter = { analyse: analyse, describe: describe, overBy: overBy, attach: attach,
                        MAX_SEGMENTS: MAX_SEGMENTS };
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-sms-counter]").forEach(attach);
  });
})();
