"use strict";
const N = Number(document.body.dataset.counter);
const ME = (SITE.counters || []).find(c => c.number === N) || {fields: []};
const $ = id => document.getElementById(id);
let state = null;
let busy = false;

function say(text, bad) {
  $("msg").textContent = text || "";
  $("msg").className = "msg" + (bad ? " bad" : "");
}

function newRequestId() {
  let id = "";
  for (let i = 0; i < 4; i++) id += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, "0");
  return id;
}

async function act(action, extra) {
  if (busy) return;
  busy = true;
  try {
    // One id per press of a button, kept across retries: the core applies a
    // command once however often it arrives, so a retry after "no answer"
    // can never call two citizens.
    const body = Object.assign({request_id: newRequestId()}, extra || {});
    let r = await post(`/api/counter/${N}/${action}`, body);
    for (let attempt = 1; r.status === 504 && attempt < 3; attempt++) {
      say("Hệ thống lõi chưa trả lời, đang thử lại…", true);
      r = await post(`/api/counter/${N}/${action}`, body);
    }
    if (r.ok) {
      const t = r.reply.ticket;
      say(t ? `${t.label}: đã ${ACTION_DONE[action] || "xong"}` : `Đã ${ACTION_DONE[action] || "xong"}`);
    } else {
      say(r.message || "Không thực hiện được", true);
    }
  } finally {
    busy = false;
  }
}

const ACTION_DONE = {next: "gọi", recall: "gọi lại", no_show: "ghi vắng mặt", finish: "hoàn thành",
  transfer: "chuyển", pause: "tạm nghỉ", resume: "mở lại quầy", call: "gọi"};

function render() {
  const s = state;
  if (!s) return;
  $("counter-name").textContent = s.name || counterName(N);
  $("status").textContent = STATUS_VI[s.status] || s.status;
  $("status").className = "badge " + s.status;
  $("current").textContent = s.current ? s.current.label : "—";
  $("current-field").textContent = s.current
    ? `${fieldName(s.current.field)} · gọi lúc ${hhmm(s.current.called_at)}`
    : "Chưa gọi công dân nào";
  $("btn-pause").innerHTML = (s.status === "paused" ? "Tiếp tục" : "Tạm nghỉ") + " <kbd>P</kbd>";
  $("waiting-count").textContent = s.waiting;
  // The window is about the ticket just finished, not the one now served:
  // named, and set apart below the buttons.
  const w = s.rating_window;
  $("rating").textContent = w
    ? `Phiếu vừa xong ${w.ticket_id.split("-").pop()}: đang chờ công dân đánh giá đến ${hhmm(w.until)}` : "";
  $("rating").classList.toggle("hidden", !w);
}

// Each of this counter's fields: how many wait, and the wait a citizen
// taking a ticket now is told (waitwords.js, the kiosk's wording).
function renderSummary(summary) {
  if (!summary) return;
  $("field-counts").innerHTML = summary.fields.filter(f => ME.fields.includes(f.field)).map(f =>
    `<li><span>${esc(f.name_vi)}</span><span class="est">` +
    `${esc(waitWords.short(f.estimated_wait_min, f.wait_low_min, f.wait_high_min, "vi"))}</span>` +
    `<b>${f.waiting}</b></li>`).join("");
}

async function loadWaiting() {
  const r = await fetch(`/api/waiting?counter=${N}`, {credentials: "same-origin"});
  if (!r.ok) return;
  const data = await r.json();
  $("waiting-list").innerHTML = data.waiting.map(t => {
    const pri = t.priority ? `<span class="pri">${esc(SITE.priorities[t.priority] || t.priority)}</span>` : "";
    const moved = t.state === "transferred" ? `<span class="moved">chuyển đến</span>` : "";
    return `<li><b>${esc(t.label)}</b> <span>${esc(fieldName(t.field))}</span> ${pri}${moved}<time>${hhmm(t.issued_at)}</time></li>`;
  }).join("") || "<li class='empty'>Không có ai đang chờ</li>";
}

// Refresh the list only when the bus says something changed; a burst of
// messages costs one fetch.
let reload = null;
function scheduleWaiting() {
  if (reload) return;
  reload = setTimeout(() => { reload = null; loadWaiting(); }, 50);
}

live((topic, body, retained) => {
  if (topic === "*") {
    state = retained[`counter/${N}/state`] || null;
    renderSummary(retained["queue/summary"]);
    renderPrinter(retained["printer/status"]);
    render();
    scheduleWaiting();
  } else if (topic === `counter/${N}/state`) {
    state = body; render(); scheduleWaiting();
  } else if (topic === "queue/summary") {
    renderSummary(body); scheduleWaiting();
  } else if (topic === "printer/status") {
    renderPrinter(body);
  }
}, ok => $("link").className = "dot " + (ok ? "ok" : "bad"));

function renderPrinter(p) {
  if (!p) return;
  $("printer").textContent = p.state === "ok" ? "" : (PRINTER_VI[p.state] || p.state);
}

function fillTransfer() {
  const opts = (SITE.fields || []).map(f => `<option value="field:${esc(f.code)}">${esc(f.name)}</option>`)
    .concat((SITE.counters || []).filter(c => c.number !== N)
      .map(c => `<option value="counter:${c.number}">${esc(c.name)}</option>`));
  $("transfer-to").innerHTML = opts.join("");
}

function openTransfer() {
  $("transfer-form").classList.remove("hidden");
  $("transfer-to").focus();
}

document.querySelectorAll("[data-action]").forEach(b => b.onclick = () => act(b.dataset.action));
$("btn-pause").onclick = () => act(state && state.status === "paused" ? "resume" : "pause");
$("btn-transfer").onclick = openTransfer;
$("transfer-cancel").onclick = () => $("transfer-form").classList.add("hidden");
$("transfer-form").onsubmit = ev => {
  ev.preventDefault();
  const [kind, v] = $("transfer-to").value.split(":");
  $("transfer-form").classList.add("hidden");
  act("transfer", kind === "counter" ? {to_counter: Number(v)} : {to_field: v});
};
$("call-form").onsubmit = ev => {
  ev.preventDefault();
  const number = $("call-number").value.trim().toUpperCase();
  if (!/^[A-Z]\d{1,3}$/.test(number)) { say("Số phiếu có dạng chữ cái và số, ví dụ B023", true); return; }
  $("call-number").value = "";
  $("call-number").blur();
  act("call", {number});
};

const KEYS = {n: "next", r: "recall", v: "no_show", h: "finish"};
document.addEventListener("keydown", ev => {
  if (ev.ctrlKey || ev.altKey || ev.metaKey) return;
  if (["INPUT", "SELECT", "TEXTAREA"].includes(ev.target.tagName)) {
    if (ev.key === "Escape") ev.target.blur();
    return;
  }
  const k = ev.key.toLowerCase();
  if (KEYS[k]) { ev.preventDefault(); act(KEYS[k]); }
  else if (k === "p") { ev.preventDefault(); $("btn-pause").click(); }
  else if (k === "t") { ev.preventDefault(); openTransfer(); }
  else if (k === "g") { ev.preventDefault(); $("call-number").focus(); }
});

fillTransfer();
bindLogout();
