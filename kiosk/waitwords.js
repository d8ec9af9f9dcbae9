/* How a wait estimate is said, for the browser pages: the rules of
 * kiosk/waitwords.py (beside it), which the kiosk, the ticket and the wall
 * display use (docs/wait.md).  One file, served by the staff console
 * (/static/waitwords.js) and by the phone page (/static/phone/waitwords.js);
 * tests/test_waitwords_js.py checks that each page says what waitwords.py
 * says for a table of cases.
 *
 * Plain ES5 (the phone page runs on old Android browsers).  Minutes come
 * from the core: the expected wait and its p10-p90 range; a wait of null
 * (no open counter serves the field) is "chờ quầy mở lại", never a number. */
var waitWords = (function () {
  "use strict";

  var WIDE_MIN = 10;      // a range this wide (minutes) or wider is said
  var NBSP = "\u00a0";    // a line never ends on a number, a duration never splits
  var WORDS = {
    vi: {about: "khoảng", min: "phút", hour: "giờ", under1: "dưới\u00a01\u00a0phút",
         upto: "có thể đến", none: "chờ quầy mở lại"},
    en: {about: "about", min: "min", hour: "h", under1: "under\u00a01\u00a0min",
         upto: "up to", none: "when a counter reopens"}
  };

  function num(x) { return typeof x === "number" && isFinite(x); }
  // Python's int(): towards zero.
  function trunc(x) { return x < 0 ? Math.ceil(x) : Math.floor(x); }

  function rounded(m) {
    if (m < 10) { return Math.max(1, trunc(m + 0.5)); }
    return trunc(m / 5 + 0.5) * 5;
  }

  function isWide(low, high) {
    return num(low) && num(high) && high - low >= WIDE_MIN;
  }

  function duration(m, lang) {
    var w = WORDS[lang];
    if (m < 60) { return m + NBSP + w.min; }
    var h = Math.floor(m / 60), rest = m % 60;
    return h + NBSP + w.hour + (rest ? NBSP + rest + NBSP + w.min : "");
  }

  function span(low, high, lang) {
    var w = WORDS[lang];
    var lo = trunc(low / 5 + 0.5) * 5;
    var hi = Math.max(lo + 5, trunc(high / 5 + 0.5) * 5);
    if (lo <= 0) { return w.upto + " " + duration(hi, lang); }
    if (hi < 60) { return lo + "–" + hi + NBSP + w.min; }
    return duration(lo, lang) + " – " + duration(hi, lang);
  }

  // "khoảng 20 phút (15–30 phút)", "khoảng 6 phút", "dưới 1 phút", "chờ quầy mở lại".
  function phrase(m, low, high, lang) {
    var w = WORDS[lang || "vi"];
    if (!num(m)) { return w.none; }
    var wide = isWide(low, high);
    if (m < 1 && !wide) { return w.under1; }
    var text = w.about + " " + duration(rounded(m), lang || "vi");
    if (wide) { text += " (" + span(low, high, lang || "vi") + ")"; }
    return text;
  }

  // Beside a field's name: "≈ 20 phút", the range alone when wide ("15–30 phút").
  function short(m, low, high, lang) {
    var w = WORDS[lang || "vi"];
    if (!num(m)) { return w.none; }
    if (isWide(low, high)) { return span(low, high, lang || "vi"); }
    if (m < 1) { return "<" + NBSP + "1" + NBSP + w.min; }
    return "≈" + NBSP + duration(rounded(m), lang || "vi");
  }

  return {phrase: phrase, short: short, WIDE_MIN: WIDE_MIN};
}());
