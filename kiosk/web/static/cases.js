// The head's follow-up cases and the official pack, on the dashboard.
// Uses $, esc, post from common.js and dashboard.js; loadCases runs when
// event/case arrives (dashboard.js's live callback) and every minute, since
// "due soon" and "overdue" change with nothing happening.
"use strict";
let caseView = "open";
let closing = null;          // the case whose closing note is being typed
let casesStale = false;      // a refresh that waited for that note
let caseBusy = false;

function newRequestId() {
  let id = "";
  for (let i = 0; i < 4; i++) id += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, "0");
  return id;
}

function caseSay(text, bad) {
  $("case-msg").textContent = text || "";
  $("case-msg").className = "msg" + (bad ? " bad" : "");
}

function ratingCell(c) {
  const reasons = c.reasons.length ? `<div class="reasons">${c.reasons.map(esc).join(" · ")}</div>` : "";
  const comment = c.comment ? `<div class="comment">“${esc(c.comment)}”</div>` : "";
  return `<td><span class="level">${esc(c.level_name)}</span> <span class="muted">(${esc(c.source_name)})</span>${reasons}${comment}</td>`;
}

function dueCell(c) {
  const badge = c.overdue ? `<span class="case-badge overdue">quá hạn</span>`
    : c.soon ? `<span class="case-badge soon">sắp đến hạn</span>` : "";
  return `<td class="due"><time>${esc(c.due)}</time> ${badge}<div class="muted small">${esc(c.due_in)}</div></td>`;
}

function openRow(c) {
  const buttons = (c.status === "open"
    ? `<button type="button" class="small" data-look="${c.id}">Đã xem xét</button> ` : "") +
    `<button type="button" class="small" data-close="${c.id}">Đóng</button>`;
  const cls = c.overdue ? "overdue" : c.soon ? "soon" : "";
  let html = `<tr data-case="${c.id}" class="${cls}"><td class="num">#${c.id}</td>` +
    `<td><b>${esc(c.ticket)}</b><div class="muted small">${esc(c.counter_name)}</div></td>` +
    `<td>${esc(c.field_name)}</td><td>${esc(c.official_name)}</td>${ratingCell(c)}` +
    `<td><time>${esc(c.opened)}</time></td>${dueCell(c)}` +
    `<td class="status">${esc(c.status_name)}${c.looked ? `<div class="muted small">${esc(c.looked)}</div>` : ""}</td>` +
    `<td class="actions">${buttons}</td></tr>`;
  if (closing === c.id) {
    html += `<tr class="close-row" data-closing="${c.id}"><td colspan="9"><form class="close-form">` +
      `<label>Ghi chú xử lý phản ánh #${c.id} (bắt buộc) <textarea id="close-note" rows="2" maxlength="1000" ` +
      `placeholder="Ví dụ: Đã gọi điện xin lỗi công dân; nhắc nhở cán bộ."></textarea></label>` +
      `<button type="submit" class="primary small">Xác nhận đóng</button> ` +
      `<button type="button" class="small" id="close-cancel">Huỷ</button></form></td></tr>`;
  }
  return html;
}

function closedRow(c) {
  const when = c.on_time ? `<span class="case-badge ontime">đúng hạn</span>` : `<span class="case-badge late">trễ hạn</span>`;
  return `<tr data-case="${c.id}"><td class="num">#${c.id}</td><td><b>${esc(c.ticket)}</b></td>` +
    `<td>${esc(c.field_name)}</td><td>${esc(c.official_name)}</td>${ratingCell(c)}` +
    `<td><time>${esc(c.due)}</time></td><td><time>${esc(c.closed)}</time> ${when}</td>` +
    `<td>${esc(c.closed_by_name)}</td><td class="note-cell">${esc(c.note)}</td></tr>`;
}

async function loadCases() {
  if (closing !== null) { casesStale = true; return; }
  const r = await fetch(`/api/cases?view=${caseView}`, {credentials: "same-origin"});
  if (!r.ok) {
    let text = "Không đọc được danh sách phản ánh";
    try { text = (await r.json()).message || text; } catch (e) { /* not JSON */ }
    $("cases-summary").textContent = text;
    $("cases-summary").classList.add("bad");
    return;
  }
  const data = await r.json();
  if (data.view !== caseView) return;     // the head switched lists meanwhile
  renderCases(data);
}

let lastCases = null;
function renderCases(data) {
  lastCases = data;
  const summary = $("cases-summary");
  summary.textContent = data.summary;
  summary.classList.toggle("bad", data.view === "open" && data.cases.some(c => c.overdue));
  const open = data.view === "open";
  // An empty list is said by the count line alone, without an empty table under it.
  $("cases-open").hidden = !open || !data.cases.length;
  $("cases-closed").hidden = open || !data.cases.length;
  $(open ? "cases-open" : "cases-closed").tBodies[0].innerHTML =
    data.cases.map(open ? openRow : closedRow).join("");
  if (open && closing !== null) {
    const note = $("close-note");
    if (note) note.focus();
  }
}

async function updateCase(id, status, note) {
  if (caseBusy) return;
  caseBusy = true;
  caseSay("Đang gửi…");
  $("case-msg").className = "msg pending";
  try {
    const body = {status, request_id: newRequestId()};
    if (note !== undefined) body.note = note;
    let r = await post(`/api/cases/${id}`, body);
    for (let attempt = 1; r.status === 504 && attempt < 3; attempt++) r = await post(`/api/cases/${id}`, body);
    if (!r.ok) { caseSay(r.message || "Không cập nhật được phản ánh", true); return false; }
    caseSay(status === "closed" ? `Đã đóng phản ánh #${id}` : `Đã ghi nhận: phản ánh #${id} đã xem xét`);
    return true;
  } finally {
    caseBusy = false;
  }
}

$("cases-open").addEventListener("click", async ev => {
  const t = ev.target;
  if (t.dataset.look) {
    closing = null;
    if (await updateCase(Number(t.dataset.look), "looked_into")) loadCases();
  } else if (t.dataset.close) {
    closing = Number(t.dataset.close);
    caseSay("");
    renderCases(lastCases);
  } else if (t.id === "close-cancel") {
    closing = null;
    caseSay("");
    loadCases();
  }
});

$("cases-open").addEventListener("submit", async ev => {
  ev.preventDefault();
  const id = closing;
  // The core judges the note (required to close, at most 1000 characters)
  // and its refusal is shown as it says.
  if (await updateCase(id, "closed", $("close-note").value)) {
    closing = null;
    casesStale = false;
    loadCases();
  }
});

function showCaseView(view) {
  caseView = view;
  closing = null;
  $("cases-open-tab").setAttribute("aria-selected", view === "open");
  $("cases-closed-tab").setAttribute("aria-selected", view === "closed");
  caseSay("");
  loadCases();
}
$("cases-open-tab").onclick = () => showCaseView("open");
$("cases-closed-tab").onclick = () => showCaseView("closed");

let caseRefresh = null;
function onCaseEvent() {
  // A burst of ratings costs one read.
  if (caseRefresh) return;
  caseRefresh = setTimeout(() => { caseRefresh = null; loadCases(); }, 300);
}
setInterval(loadCases, 60000);

// ---- the official pack: a month, quarter or year, as PDF or workbook.
const ROMAN = ["I", "II", "III", "IV"];
function packPeriods(kind, today) {
  // The last complete periods before today, newest first (the first is the default).
  const [y, m] = today.split("-").map(Number);
  const out = [];
  if (kind === "monthly") {
    for (let i = 1; i <= 24; i++) {
      const d = new Date(Date.UTC(y, m - 1 - i, 1));
      const mm = String(d.getUTCMonth() + 1).padStart(2, "0");
      out.push([`${d.getUTCFullYear()}-${mm}`, `Tháng ${mm}/${d.getUTCFullYear()}`]);
    }
  } else if (kind === "quarterly") {
    let q = Math.floor((m - 1) / 3), year = y;           // the current quarter, 0-based
    for (let i = 1; i <= 8; i++) {
      q -= 1;
      if (q < 0) { q = 3; year -= 1; }
      out.push([`${year}-Q${q + 1}`, `Quý ${ROMAN[q]}/${year}`]);
    }
  } else {
    for (let i = 1; i <= 5; i++) out.push([String(y - i), `Năm ${y - i}`]);
  }
  return out;
}

function fillPackPeriods() {
  $("pack-period").innerHTML = packPeriods($("pack-kind").value, TODAY)
    .map(([v, label]) => `<option value="${v}">${esc(label)}</option>`).join("");
}

function packName(disposition, fallback) {
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition || "");
  if (star) return decodeURIComponent(star[1]);
  const plain = /filename="([^"]+)"/.exec(disposition || "");
  return plain ? plain[1] : fallback;
}

let packBusy = false;
async function downloadPack(format) {
  if (packBusy) return;
  packBusy = true;
  const msg = $("pack-msg");
  const label = $("pack-period").selectedOptions[0].textContent;
  msg.textContent = `Đang tạo bộ báo cáo ${label}…`;
  msg.className = "msg pending";
  try {
    const q = `kind=${$("pack-kind").value}&period=${encodeURIComponent($("pack-period").value)}&format=${format}`;
    const r = await fetch(`/api/pack?${q}`, {credentials: "same-origin"});
    if (!r.ok) {
      let text = `Máy chủ trả lời lỗi ${r.status}`;
      try { text = (await r.json()).message || text; } catch (e) { /* not JSON */ }
      msg.textContent = text;
      msg.className = "msg bad";
      return;
    }
    const blob = await r.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = packName(r.headers.get("content-disposition"), `bao-cao.${format}`);
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    msg.textContent = `Đã tải ${a.download}`;
    msg.className = "msg";
  } catch (e) {
    msg.textContent = "Mất kết nối tới máy chủ; thử lại";
    msg.className = "msg bad";
  } finally {
    packBusy = false;
  }
}

$("pack-kind").onchange = fillPackPeriods;
$("pack-pdf").onclick = () => downloadPack("pdf");
$("pack-xlsx").onclick = () => downloadPack("xlsx");
fillPackPeriods();
loadCases();
