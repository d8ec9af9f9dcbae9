/* The citizen's phone page (docs/phone.md): the ticket's place in line,
 * the call, the rating.  Plain ES5-style script, no build step and nothing
 * from outside this server, so a five-year-old Android phone runs it.
 * Live by Server-Sent Events; by polling /state where those fail. */
(function () {
  "use strict";

  var parts = location.pathname.split("/");
  var base = "/t/" + parts[2] + "/" + parts[3];
  var POLL_MS = 5000;
  var st = null;            // the last state from the server
  var sent = false;         // this page's rating was counted
  var refusedShown = false; // the core's refusal stays on screen
  var alertKey = null;      // the call the alert was raised for
  var audio = null;         // Web Audio, after the citizen's first tap
  var chosen = null;        // the level picked, while the reasons are asked
  var levelsKey = "";
  var source = null;
  var pollTimer = null;
  var busy = false;

  function $(id) { return document.getElementById(id); }
  function show(id, on) { $(id).hidden = !on; }

  // Vietnamese first, English under it (smaller, from the stylesheet).
  function bi(el, vi, en) {
    el.textContent = vi;
    if (en) {
      var s = document.createElement("span");
      s.className = "en";
      s.textContent = en;
      el.appendChild(s);
    }
  }

  function counterEn(c) {
    return "Counter " + c.number;
  }

  // ------------------------------------------------------------ sound
  function enableSound() {
    if (audio) { return; }
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    try {
      audio = new Ctx();
      if (audio.resume) { audio.resume(); }
    } catch (e) {
      audio = null;
    }
  }

  function beep(times) {
    if (!audio) { return; }
    var t = audio.currentTime + 0.05;
    for (var i = 0; i < times; i++) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.3, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(t);
      osc.stop(t + 0.32);
      t += 0.5;
    }
  }

  function soundButton() {
    var wanted = st && (st.status === "waiting" || st.status === "unknown");
    show("sound", !audio && wanted);
    show("sound-on", !!audio && wanted);
  }

  // ------------------------------------------------------------ the call
  function raiseAlert(s) {
    var c = s.counter || {number: "?", name: "?"};
    $("alert-label").textContent = s.label;
    bi($("alert-to"), "Mời đến " + c.name);
    $("alert-en").textContent = "Please go to " + counterEn(c);
    show("alert", true);
    document.title = "Mời đến " + c.name + " – " + s.label;
    beep(3);
    if (navigator.vibrate) {
      try { navigator.vibrate([400, 200, 400, 200, 800]); } catch (e) { /* not allowed here */ }
    }
  }

  // ------------------------------------------------------------ rating
  function buildLevels(s) {
    var key = JSON.stringify([s.levels, s.reasons]);
    if (key === levelsKey) { return; }
    levelsKey = key;
    var box = $("levels");
    box.innerHTML = "";
    s.levels.forEach(function (lv) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "btn level " + (lv.satisfied ? "good" : "bad");
      b.setAttribute("data-level", lv.level);
      bi(b, lv.name_vi, lv.name_en);
      b.addEventListener("click", function () { pick(lv); });
      box.appendChild(b);
    });
    var rs = $("reasons");
    rs.innerHTML = "";
    s.reasons.forEach(function (r) {
      var label = document.createElement("label");
      label.className = "reason";
      var box2 = document.createElement("input");
      box2.type = "checkbox";
      box2.value = r.code;
      box2.name = "reason";
      if (r.code === "khac") {
        box2.addEventListener("change", function () { show("comment-box", box2.checked); });
      }
      label.appendChild(box2);
      var text = document.createElement("span");
      bi(text, r.name_vi, r.name_en);
      label.appendChild(text);
      rs.appendChild(label);
    });
  }

  function markChosen() {
    var buttons = $("levels").querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) {
      var on = chosen && buttons[i].getAttribute("data-level") === String(chosen.level);
      buttons[i].className = buttons[i].className.replace(/ chosen/g, "") + (on ? " chosen" : "");
    }
  }

  function pick(lv) {
    enableSound();
    if (busy) { return; }
    if (lv.satisfied || !st.reasons.length) {
      chosen = lv;
      markChosen();
      send({level: lv.level});
      return;
    }
    chosen = lv;
    markChosen();
    show("reasons-form", true);
    if ($("reasons-form").scrollIntoView) { $("reasons-form").scrollIntoView(); }
  }

  function submitReasons(ev) {
    ev.preventDefault();
    if (!chosen || busy) { return; }
    var reasons = [];
    var boxes = $("reasons").querySelectorAll("input:checked");
    for (var i = 0; i < boxes.length; i++) { reasons.push(boxes[i].value); }
    var body = {level: chosen.level, reasons: reasons};
    var comment = $("comment").value.trim();
    if (comment && reasons.indexOf("khac") >= 0) { body.comment = comment.slice(0, 200); }
    send(body);
  }

  function setBusy(on) {
    busy = on;
    var buttons = $("s-rate").querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = on; }
  }

  // One random key per rating on this page, sent again with a retry, so a
  // rating whose answer was lost is not taken twice by the core.
  var attempt = null;
  function newAttempt() {
    var a = [], i;
    if (window.crypto && window.crypto.getRandomValues) {
      var b = new Uint8Array(12);
      window.crypto.getRandomValues(b);
      for (i = 0; i < b.length; i++) { a.push((b[i] + 256).toString(16).slice(1)); }
    } else {
      for (i = 0; i < 24; i++) { a.push(Math.floor(Math.random() * 16).toString(16)); }
    }
    return a.join("");
  }

  function send(body) {
    if (!attempt) { attempt = newAttempt(); }
    body.attempt = attempt;
    setBusy(true);
    show("refused", false);
    request("POST", base + "/rating", JSON.stringify(body), function (status, reply) {
      setBusy(false);
      if (status === 200 && reply && reply.ok) {
        sent = true;
        render(st);
        return;
      }
      reply = reply || {message: "Không gửi được; vui lòng thử lại.", message_en: "Not sent; please try again."};
      bi($("refused"), reply.message, reply.message_en);
      show("refused", true);
      // The core's word is final (already rated, too late): no more buttons.
      if (status === 409) {
        refusedShown = true;
        render(st);
      }
      if (status === 504) { refresh(); }
    });
  }

  // ------------------------------------------------------------ drawing
  function render(s) {
    if (!s) { return; }
    var was = st;
    st = s;
    $("app").className = "st-" + s.status;
    $("centre").textContent = s.centre || "";
    $("label").textContent = s.label;
    if (s.field) {
      bi($("field"), s.field.name_vi, s.field.name_en);
    }
    var moved = s.origin_field && (s.status === "waiting" || s.status === "called");
    if (moved) {
      bi($("moved"), "Đã chuyển sang lĩnh vực " + s.field.name_vi,
         "Moved to " + s.field.name_en);
    }
    show("moved", !!moved);

    show("s-waiting", s.status === "waiting");
    if (s.status === "waiting") {
      if (s.ahead === 0) {
        bi($("ahead"), "Bạn là người tiếp theo", "You are next");
      } else if (typeof s.ahead === "number") {
        bi($("ahead"), "Còn " + s.ahead + " người trước bạn",
           s.ahead + (s.ahead === 1 ? " person" : " people") + " ahead of you");
      } else {
        bi($("ahead"), "Đang chờ", "Waiting");
      }
      // The forecast as waitwords.js words it (the rules of kiosk/waitwords.py):
      // "khoảng 20 phút (15–35 phút)", "dưới 1 phút"; no wait from the core
      // means no open counter serves the field: "chờ quầy mở lại"; a wait the
      // server found malformed is left out of the state (no line at all).
      if (typeof s.ahead === "number" && "wait_min" in s) {
        bi($("wait"), "Thời gian chờ ước tính: " +
           waitWords.phrase(s.wait_min, s.wait_low_min, s.wait_high_min, "vi"),
           "Estimated wait: " + waitWords.phrase(s.wait_min, s.wait_low_min, s.wait_high_min, "en"));
        show("wait", true);
      } else {
        show("wait", false);
      }
    }

    show("s-called", s.status === "called");
    if (s.status === "called" && s.counter) {
      bi($("called-to"), "Mời đến " + s.counter.name, "Please go to " + counterEn(s.counter));
      // A new counter or a recall raises the alert again.
      var key = s.label + "@" + s.counter.number + "#" + (s.recalls || 0);
      if (key !== alertKey) {
        alertKey = key;
        raiseAlert(s);
      }
    } else {
      if (alertKey && s.status !== "called") { show("alert", false); }
      alertKey = s.status === "called" ? alertKey : null;
      document.title = "Phiếu " + s.label;
    }

    var finished = s.status === "finished";
    if (finished) { buildLevels(s); }
    var thanks = finished && (sent || s.rated === "phone");
    show("s-thanks", thanks);
    if (thanks) {
      bi($("thanks-detail"), "Đánh giá của bạn đã được ghi nhận.", "Your rating has been recorded.");
    }
    show("s-rate", finished && s.can_rate && !sent && !refusedShown);
    if (!(finished && s.can_rate)) { show("reasons-form", false); }
    show("s-rated", finished && s.rated === "box" && !sent && !refusedShown);
    if (!finished && refusedShown) { show("refused", false); }
    show("s-no_show", s.status === "no_show");
    show("s-closed", s.status === "closed");
    show("s-unknown", s.status === "unknown" || s.status === "loading");
    soundButton();
    if (was === null) { online(true); }
  }

  // ------------------------------------------------------------ the wire
  function request(method, url, body, done) {
    var x = new XMLHttpRequest();
    x.open(method, url, true);
    x.timeout = 10000;
    if (body) { x.setRequestHeader("Content-Type", "application/json"); }
    x.onload = function () {
      var data = null;
      try { data = JSON.parse(x.responseText); } catch (e) { data = null; }
      done(x.status, data);
    };
    x.onerror = x.ontimeout = function () { done(0, null); };
    x.send(body || null);
  }

  function online(on) {
    var el = $("link");
    el.className = "link" + (on ? " ok" : " down");
    if (on) {
      bi(el, "Đang cập nhật trực tiếp", "Live");
    } else {
      bi(el, "Mất kết nối, đang thử lại…", "Connection lost, retrying…");
    }
  }

  function refresh() {
    request("GET", base + "/state", null, function (status, data) {
      if (status === 200 && data) {
        render(data);
        online(true);
      } else if (status === 404) {
        location.reload();          // the server's plain "Mã không hợp lệ" page
      } else {
        online(false);
      }
    });
  }

  function poll() {
    if (pollTimer) { return; }
    pollTimer = setInterval(refresh, POLL_MS);
  }

  function listen() {
    if (!window.EventSource) { poll(); return; }
    source = new EventSource(base + "/events");
    source.onmessage = function (ev) {
      try { render(JSON.parse(ev.data)); } catch (e) { return; }
      online(true);
    };
    source.onopen = function () { online(true); };
    source.onerror = function () {
      // CLOSED: refused (too many pages open) or not a stream: poll instead.
      if (source.readyState === 2) {
        source = null;
        poll();
      } else {
        online(false);
      }
    };
  }

  $("sound").addEventListener("click", function () {
    enableSound();
    beep(1);
    soundButton();
  });
  $("alert-ok").addEventListener("click", function () {
    enableSound();
    show("alert", false);
  });
  $("reasons-form").addEventListener("submit", submitReasons);
  document.addEventListener("visibilitychange", function () {
    // A phone asleep may have dropped the stream: catch up at once.
    if (!document.hidden) {
      refresh();
      if (!source && !pollTimer) { listen(); }
    }
  });

  refresh();
  listen();
}());
