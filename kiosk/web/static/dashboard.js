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
    `<tr><td>${esc(f.name_vi)}</td><td class="num">${f.waiting}</td><td class="num">${f.issued}</td></tr>`).join("");
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

function renderAlerts() {
  $("alerts").innerHTML = alerts.slice(0, 5).map(a =>
    `<li class="${esc(a.severity)}"><time>${hhmm(a.at)}</time> ${esc(a.message)}</li>`).join("");
}

async function loadOverview() {
  const r = await fetch("/api/overview", {credentials: "same-origin"});
  if (r.ok) $("anomalies").textContent = (await r.json()).anomalies;
}

function loadChart() {
  $("chart").src = `/api/chart.png?from=${TODAY}&to=${TODAY}&t=${Date.now()}`;
}

let refresh = null;
function scheduleFigures() {
  // Ratings and finishes change the chart; redraw at most every few seconds.
  if (refresh) return;
  refresh = setTimeout(() => { refresh = null; loadOverview(); loadChart(); }, 3000);
}

live((topic, body, r) => {
  if (topic === "event/alert") { alerts.unshift(body); renderAlerts(); return; }
  if (topic === "event/call") return;
  renderCounters(r);
  renderFields(r["queue/summary"]);
  renderDevices(r);
  if (topic.startsWith("counter/")) scheduleFigures();
}, ok => $("link").className = "dot " + (ok ? "ok" : "bad"));

function links() {
  const q = `from=${$("from").value}&to=${$("to").value}&by=${$("by").value}`;
  $("dl-xlsx").href = `/api/report?fmt=xlsx&${q}`;
  $("dl-csv").href = `/api/report?fmt=csv&${q}`;
}
$("from").value = TODAY; $("to").value = TODAY;
["from", "to", "by"].forEach(id => $(id).onchange = links);
links();

$("reprint").onsubmit = async ev => {
  ev.preventDefault();
  const r = await post("/api/reprint", {ticket: $("reprint-ticket").value, force: $("reprint-force").checked});
  $("reprint-msg").textContent = r.ok ? `Đã gửi lệnh in lại phiếu ${r.reply.ticket.label}` : r.message;
  $("reprint-msg").className = "msg" + (r.ok ? "" : " bad");
};

loadOverview();
loadChart();
bindLogout();
