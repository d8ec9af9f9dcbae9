"use strict";
const $ = id => document.getElementById(id);
const TODAY = document.body.dataset.today;
const alerts = [];

function renderCounters(r) {
  $("counters").tBodies[0].innerHTML = (SITE.counters || []).map(c => {
    const s = r[`counter/${c.number}/state`];
    if (!s) return `<tr><td>${esc(c.name)}</td><td colspan="4">chưa có dữ liệu</td></tr>`;
    return `<tr class="${esc(s.status)}"><td>${esc(s.name)}</td><td>${esc(STATUS_VI[s.status] || s.status)}</td>` +
      `<td class="num">${esc(s.current ? s.current.label : "—")}</td><td>${esc(s.official || "—")}</td>` +
      `<td class="num">${s.waiting}</td></tr>`;
  }).join("");
}

function renderFields(summary) {
  if (!summary) return;
  $("fields").tBodies[0].innerHTML = summary.fields.map(f =>
    `<tr><td>${esc(f.name_vi)}</td><td class="num">${f.waiting}</td>` +
    `<td class="est">${esc(waitWords.short(f.estimated_wait_min, f.wait_low_min, f.wait_high_min, "vi"))}</td>` +
    `<td class="num">${f.issued}</td></tr>`).join("");
}

function renderDevices(r) {
  const p = r["printer/status"];
  $("printer").textContent = p ? (PRINTER_VI[p.state] || p.state) : "Chưa có tin từ máy in";
  $("printer").className = "printer-line " + (p && p.state === "ok" ? "ok" : "bad");
  const items = Object.keys(r).filter(k => k.startsWith("presence/")).sort().map(k => {
    const d = r[k] || {};
    const on = d.status === "online";
    return `<li class="${on ? "ok" : "bad"}">${esc(d.device || k.slice(9))}: ${on ? "trực tuyến" : "MẤT KẾT NỐI"}</li>`;
  });
  $("devices").innerHTML = items.join("");
}

// The citizens' phone page (phone/stats, retained, every 10 s): what it
// served and every attempt it refused, counted since it started.
const PHONE_REFUSED_VI = {bad_token: "mã sai", rate_limited: "quá nhiều yêu cầu", streams: "quá nhiều trang mở",
  bad_request: "yêu cầu hỏng", core_refused: "đánh giá bị từ chối"};
function renderPhone(r) {
  const s = r["phone/stats"];
  if (!s) return;
  const refused = s.refused || {};
  const total = Object.values(refused).reduce((a, b) => a + b, 0);
  const parts = Object.keys(refused).filter(k => refused[k] > 0)
    .map(k => `${refused[k]} ${PHONE_REFUSED_VI[k] || k}`);
  $("phone").hidden = false;
  $("phone").textContent = `Trang điện thoại: ${s.pages} lượt xem, ${s.ratings_sent} đánh giá gửi, ` +
    `${total} lần bị từ chối` + (parts.length ? ` (${parts.join(", ")})` : "") + ` — từ ${hhmm(s.since)}`;
  $("phone").className = "phone-line" + (total ? " bad" : "");
}

function renderAlerts() {
  $("alerts").innerHTML = alerts.slice(0, 5).map(a =>
    `<li class="${esc(a.severity)}"><time>${hhmm(a.at)}</time> ${esc(a.message)}</li>`).join("");
}

function renderQueueAlerts(list) {
  $("queue-alerts").innerHTML = list.length
    ? list.map(a => `<li class="alert-${esc(a.kind)}">${esc(a.message)}</li>`).join("")
    : `<li class="none">Không có hàng chờ nào quá mục tiêu hay lệch quầy</li>`;
}

function renderKpis(kpis) {
  const row = k => `<tr><td>${esc(k.name)}</td><td class="num">${minutes(k.wait.p50)}</td>` +
    `<td class="num">${minutes(k.wait.p90)}</td><td class="num">${minutes(k.service.p50)}</td>` +
    `<td class="num">${minutes(k.service.p90)}</td><td class="num">${k.wait.n}</td></tr>`;
  $("kpi-fields").tBodies[0].innerHTML = kpis.fields.map(row).join("");
  $("kpi-counters").tBodies[0].innerHTML = kpis.counters.map(row).join("");
}

// Satisfaction as stacked HTML bars: text stays text (crisp at any zoom,
// as large as the page's), one row per official with presses today.
const LEVEL_COLOURS = {true: ["#1d7a3a", "#5fae6e", "#9fd3a6"], false: ["#b3261e", "#e07a2f", "#f0b35a"]};
function renderChart(sat) {
  const used = {true: 0, false: 0};
  const colour = {};
  for (const lv of sat.levels) colour[lv.code] = LEVEL_COLOURS[lv.satisfied][used[lv.satisfied]++ % 3];
  if (!sat.bars.length) {
    $("chart").innerHTML = `<p class="none">Chưa có đánh giá nào hôm nay</p>`;
    return;
  }
  const legend = sat.levels.map(lv =>
    `<span><i style="background:${colour[lv.code]}"></i>${esc(lv.name)}</span>`).join("");
  const rows = sat.bars.map(b => {
    const good = sat.levels.filter(lv => lv.satisfied).reduce((s, lv) => s + (b.counts[lv.code] || 0), 0);
    const segs = sat.levels.filter(lv => b.counts[lv.code]).map(lv => {
      const n = b.counts[lv.code];
      return `<span class="seg" style="flex:${n};background:${colour[lv.code]}" title="${esc(lv.name)}: ${n}">${n}</span>`;
    }).join("");
    return `<div class="bar-row" data-official="${esc(b.official || "")}"><span class="bar-name">${esc(b.name)}</span>` +
      `<span class="bar">${segs}</span><span class="bar-rate">${Math.round(100 * good / b.total)}% hài lòng · ${b.total}</span></div>`;
  }).join("");
  $("chart").innerHTML = `<div class="legend">${legend}</div>${rows}`;
}

// What each part was last drawn from: the core republishes its summary as
// the forecast's minutes tick (every ~10 s), and redrawing unchanged tables
// and bars each time would only make them flicker under the reader's eye.
const drawn = {};
function changed(key, value) {
  const text = JSON.stringify(value);
  if (drawn[key] === text) return false;
  drawn[key] = text;
  return true;
}

async function loadOverview() {
  const r = await fetch("/api/overview", {credentials: "same-origin"});
  if (!r.ok) return;
  const o = await r.json();
  $("anomalies").textContent = o.anomalies;
  if (changed("alerts", o.alerts)) renderQueueAlerts(o.alerts);
  if (changed("kpis", o.kpis)) renderKpis(o.kpis);
  $("est-error").textContent = o.estimate_error.text;
  if (changed("satisfaction", o.satisfaction)) renderChart(o.satisfaction);
}

let refresh = null;
function scheduleFigures() {
  // Ratings, calls and finishes change the figures; read them again at most every second.
  if (refresh) return;
  refresh = setTimeout(() => { refresh = null; loadOverview(); }, 1000);
}
// A wait grows with nobody pressing anything: look again each half minute.
setInterval(scheduleFigures, 30000);

live((topic, body, r) => {
  if (topic === "event/alert") { alerts.unshift(body); renderAlerts(); return; }
  if (topic === "event/call") return;
  // A case opened, looked into or closed (cases.js): read the list again.
  if (topic === "event/case") { onCaseEvent(); return; }
  // After a reconnect the events missed meanwhile are gone: read it anyway.
  if (topic === "*") onCaseEvent();
  renderCounters(r);
  renderFields(r["queue/summary"]);
  renderDevices(r);
  renderPhone(r);
  if (topic === "*" || topic === "queue/summary" || topic.startsWith("counter/")) scheduleFigures();
}, ok => $("link").className = "dot " + (ok ? "ok" : "bad"));

function links() {
  const from = viToIso($("from").value), to = viToIso($("to").value);
  const bad = !from ? "from" : !to ? "to" : null;
  ["from", "to"].forEach(id => $(id).classList.toggle("invalid", id === bad));
  $("report-msg").textContent = bad ? "Ngày ghi theo dạng ngày/tháng/năm, ví dụ 05/03/2026" : "";
  for (const fmt of ["xlsx", "csv"]) {
    const a = $(`dl-${fmt}`);
    a.classList.toggle("disabled", !!bad);
    if (bad) a.removeAttribute("href");
    else a.href = `/api/report?fmt=${fmt}&from=${from}&to=${to}&by=${$("by").value}`;
  }
}
$("from").value = isoToVi(TODAY); $("to").value = isoToVi(TODAY);
$("today").textContent = isoToVi(TODAY);
["from", "to", "by"].forEach(id => { $(id).onchange = links; $(id).oninput = links; });
links();

$("reprint").onsubmit = async ev => {
  ev.preventDefault();
  const r = await post("/api/reprint", {ticket: $("reprint-ticket").value, force: $("reprint-force").checked});
  $("reprint-msg").textContent = r.ok ? `Đã gửi lệnh in lại phiếu ${r.reply.ticket.label}` : r.message;
  $("reprint-msg").className = "msg" + (r.ok ? "" : " bad");
};

loadOverview();
bindLogout();
