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

  function describe(a) {
    return a.units + " · " + a.segments + " segment" + (a.segments === 1 ? "" : "s") +
           " · " + a.remaining + " left · " + a.encoding +
           (a.culprit === null ? "" : " because of “" + a.culprit + "”");
  }

  window.smsCounter = { analyse: analyse, describe: describe };
})();
