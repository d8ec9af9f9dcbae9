"use strict";
const $ = id => document.getElementById(id);
const ROLE_VI = {staff: "Cán bộ một cửa", head: "Lãnh đạo", admin: "Quản trị"};

function say(r, done) {
  $("msg").textContent = r.ok ? done : (r.message || "Không thực hiện được");
  $("msg").className = "msg" + (r.ok ? "" : " bad");
}

async function loadRoster() {
  const r = await fetch("/api/officials", {credentials: "same-origin"});
  const data = await r.json();
  $("roster").tBodies[0].innerHTML = data.officials.map(o =>
    `<tr data-code="${esc(o.code)}"><td>${esc(o.code)}</td><td>${esc(o.name)}</td><td>${esc(ROLE_VI[o.role] || o.role)}</td>` +
    `<td>${o.has_pin ? "có" : "chưa có"}</td>` +
    `<td><button class="small toggle" data-active="${o.active ? 0 : 1}">${o.active ? "Đang hoạt động — khóa" : "Đã khóa — mở"}</button></td>` +
    `<td><input class="pin" type="password" inputmode="numeric" size="6"> <button class="small setpin">Đặt</button></td></tr>`).join("");
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
      `<td><button class="small" data-n="${c.number}" data-action="${paused ? "resume" : "pause"}">${paused ? "Mở lại" : "Tạm dừng"}</button></td></tr>`;
  }).join("");
  $("counters").querySelectorAll("button").forEach(b => b.onclick = async () => {
    const r = await post(`/api/counter/${b.dataset.n}/${b.dataset.action}`);
    say(r, b.dataset.action === "pause" ? "Đã tạm dừng quầy" : "Đã mở lại quầy");
  });
}

live((topic, body, r) => {
  if (topic === "*" || topic.startsWith("counter/")) renderCounters(r);
}, ok => $("link").className = "dot " + (ok ? "ok" : "bad"));
loadRoster();
bindLogout();
