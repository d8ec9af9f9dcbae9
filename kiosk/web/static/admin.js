"use strict";
// The admin pages' frame: the in-page menu, the roster, the counters' pause,
// the printer and voice tests and the history.  The config editor is settings.js.
const $ = id => document.getElementById(id);
const ROLE_VI = {staff: "Cán bộ một cửa", head: "Lãnh đạo", admin: "Quản trị"};
// "view": the head's read-only pages (/settings); "edit": an admin's (/admin).
const EDIT = document.body.dataset.mode === "edit";

function say(r, done, el) {
  const m = $(el || "msg");
  m.textContent = r.ok ? done : (r.message || "Không thực hiện được");
  m.className = "msg" + (r.ok ? "" : " bad");
}

// ---- the in-page menu: one tab shown, named in the address (#fields) so a
// reload or a link opens the same page.
const TABS = [...document.querySelectorAll("#tabs a")].map(a => a.dataset.tab);

function showTab() {
  const want = location.hash.slice(1);
  const tab = TABS.includes(want) ? want : TABS[0];
  for (const t of TABS) $("tab-" + t).classList.toggle("hidden", t !== tab);
  document.querySelectorAll("#tabs a").forEach(a => {
    if (a.dataset.tab === tab) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  $("savebar").classList.toggle("hidden", !$("tab-" + tab).classList.contains("config"));
  if (tab === "history") loadHistory();
}
window.addEventListener("hashchange", showTab);

// ---- the roster
async function loadRoster() {
  const r = await fetch("/api/officials", {credentials: "same-origin"});
  const data = await r.json();
  $("roster").tBodies[0].innerHTML = data.officials.map(o =>
    `<tr data-code="${esc(o.code)}"><td>${esc(o.code)}</td><td>${esc(o.name)}</td><td>${esc(ROLE_VI[o.role] || o.role)}</td>` +
    `<td>${o.has_pin ? "có" : "chưa có"}</td>` +
    (EDIT ? `<td><button class="small toggle" data-active="${o.active ? 0 : 1}">${o.active ? "Đang hoạt động — khóa" : "Đã khóa — mở"}</button></td>` +
      `<td><input class="pin" type="password" inputmode="numeric" size="6" aria-label="PIN mới cho ${esc(o.code)}"> <button class="small setpin">Đặt</button></td>`
      : `<td>${o.active ? "Đang hoạt động" : "Đã khóa"}</td>`) + `</tr>`).join("");
  $("roster").querySelectorAll(".toggle").forEach(b => b.onclick = async () => {
    const code = b.closest("tr").dataset.code;
    const r = await post("/api/officials/active", {official: code, active: b.dataset.active === "1"});
    say(r, `Đã cập nhật ${code}`); loadRoster();
  });
  $("roster").querySelectorAll(".setpin").forEach(b => b.onclick = async () => {
    const tr = b.closest("tr");
    const r = await post("/api/officials/pin", {official: tr.dataset.code, pin: tr.querySelector(".pin").value});
    say(r, `Đã đặt PIN mới cho ${tr.dataset.code}`); loadRoster();
  });
}

$("add").onsubmit = async ev => {
  ev.preventDefault();
  const r = await post("/api/officials/add", {official: $("add-code").value, name: $("add-name").value,
    role: $("add-role").value, pin: $("add-pin").value});
  say(r, `Đã thêm ${$("add-code").value}`);
  if (r.ok) { $("add").reset(); loadRoster(); }
};

function renderCounters(r) {
  $("counters").tBodies[0].innerHTML = (SITE.counters || []).map(c => {
    const s = r[`counter/${c.number}/state`] || {};
    const paused = s.status === "paused";
    return `<tr><td>${esc(c.name)}</td><td>${esc(STATUS_VI[s.status] || "—")}</td>` +
      (EDIT ? `<td><button class="small" data-n="${c.number}" data-action="${paused ? "resume" : "pause"}">${paused ? "Mở lại" : "Tạm dừng"}</button></td>` : "<td></td>") +
      `</tr>`;
  }).join("");
  $("counters").querySelectorAll("button").forEach(b => b.onclick = async () => {
    const r = await post(`/api/counter/${b.dataset.n}/${b.dataset.action}`);
    say(r, b.dataset.action === "pause" ? "Đã tạm dừng quầy" : "Đã mở lại quầy");
  });
}

// ---- the printer and the voice
$("print-test").onclick = async () => {
  $("print-msg").textContent = "Đang gửi lệnh in…"; $("print-msg").className = "msg pending";
  const r = await post("/api/test/print");
  const state = r.reply && r.reply.printer && r.reply.printer.state;
  say(r, "Đã in phiếu thử" + (state ? ` (${PRINTER_VI[state] || state})` : ""), "print-msg");
};
$("voice-form").onsubmit = async ev => {
  ev.preventDefault();
  const r = await post("/api/test/voice", {text: $("voice-text").value});
  say(r, "Đã gửi câu đọc thử tới loa và màn hình phòng chờ", "voice-msg");
};

// ---- the history
async function loadHistory() {
  const r = await fetch("/api/config/history", {credentials: "same-origin"});
  const data = await r.json();
  const rows = data.versions || [];
  $("history").tBodies[0].innerHTML = rows.length ? rows.map(v =>
    `<tr data-version="${v.version}"${v.current ? ' class="current"' : ""}><td class="num">${v.version}</td><td>${esc(v.at)}</td><td>${esc(v.who || v.by)}</td>` +
    `<td><ul class="changes">${(v.changes || []).map(c => `<li>${esc(c)}</li>`).join("") ||
      `<li>${v.by === "file" ? "Cấu hình đọc từ tệp khi khởi động" : "—"}</li>`}</ul></td>` +
    `<td>${v.current ? "Đang dùng" : (EDIT ? `<button class="small restore">Khôi phục</button>` : "")}</td></tr>`).join("")
    : `<tr><td colspan="5" class="muted">Chưa có phiên bản nào được lưu.</td></tr>`;
  $("history").querySelectorAll(".restore").forEach(b => b.onclick = async () => {
    const version = Number(b.closest("tr").dataset.version);
    $("history-msg").textContent = `Đang khôi phục phiên bản ${version}…`;
    $("history-msg").className = "msg pending";
    const r = await post("/api/config/restore", {version});
    const lines = r.ok ? (r.changes || []) : (r.reasons || []).concat((r.errors || []).map(e => `${e.loc}: ${e.text}`));
    $("history-msg").textContent = (r.ok ? `Đã khôi phục phiên bản ${version}` +
      (r.version ? ` (thành phiên bản ${r.version})` : "") : (r.message || "Không khôi phục được")) +
      (lines.length ? ": " + lines.join("; ") : "");
    $("history-msg").className = "msg" + (r.ok ? "" : " bad");
    if (r.ok) { loadHistory(); reloadConfig(); }
  });
}

if (!EDIT) {
  $("mode-title").textContent = "Cấu hình (chỉ xem)";
  $("view-note").classList.remove("hidden");
  document.querySelectorAll(".edit-only").forEach(e => e.classList.add("hidden"));
  document.querySelectorAll(".edit-control").forEach(e => e.disabled = true);
  $("voice-text").disabled = true;
}

live((topic, body, r) => {
  if (topic === "*" || topic.startsWith("counter/")) renderCounters(r);
  if (topic === "config/site") configChanged(body);
}, ok => $("link").className = "dot " + (ok ? "ok" : "bad"));
loadRoster();
bindLogout();
showTab();
