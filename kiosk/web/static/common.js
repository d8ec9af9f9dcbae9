// Shared by every page: CSRF-protected POSTs, the live stream, small helpers.
"use strict";
const SITE = JSON.parse(document.body.dataset.site || "{}");
const CSRF = document.querySelector('meta[name="csrf"]').content;

function esc(s) {
  return String(s == null ? "" : s).replace(/[&<>"']/g, c => (
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

async function post(url, body) {
  const r = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": CSRF},
    body: JSON.stringify(body || {}),
  });
  let data = {};
  try { data = await r.json(); } catch (e) { data = {message: "Máy chủ trả lời lỗi " + r.status}; }
  data.status = r.status;
  return data;
}

function fieldName(code) {
  const f = (SITE.fields || []).find(f => f.code === code);
  return f ? f.name : code;
}

function counterName(n) {
  const c = (SITE.counters || []).find(c => c.number === n);
  return c ? c.name : "Quầy " + n;
}

// The live stream: the first message holds every retained topic, then one
// message per change.  EventSource reconnects by itself after a drop.
function live(onMessage, onStatus) {
  const retained = {};
  const es = new EventSource("/api/events");
  es.onopen = () => onStatus && onStatus(true);
  es.onerror = () => onStatus && onStatus(false);
  es.onmessage = ev => {
    const m = JSON.parse(ev.data);
    if (m.topic === "config/site") {
      // The centre's config changed: the names a page shows follow it.
      refreshSite().then(() => onMessage(m.topic, m.body, retained));
      return;
    }
    if (m.topic === "*") {
      for (const k of Object.keys(retained)) delete retained[k];
      Object.assign(retained, m.body);
    } else if (!m.topic.startsWith("event/")) {
      retained[m.topic] = m.body;
    }
    onMessage(m.topic, m.body, retained);
  };
  return es;
}

async function refreshSite() {
  try {
    const r = await fetch("/api/site", {credentials: "same-origin"});
    if (r.ok) Object.assign(SITE, await r.json());
  } catch (e) { /* the next change or a reload brings them */ }
}

function bindLogout() {
  const b = document.getElementById("logout");
  if (b) b.onclick = async () => {
    const r = await post("/api/logout");
    location.href = r.next || "/login";
  };
}

// Times and dates in the site's zone (SITE.tz, [site] timezone), never the
// browser's: a counter PC set to UTC must still show the hall's clock.
function hhmm(t) {
  if (!t) return "";
  return new Date(t * 1000).toLocaleTimeString("vi-VN", {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: SITE.tz || undefined});
}

// Dates as Vietnamese write them, dd/mm/yyyy, whatever the browser's locale
// (a date <input> would follow the browser's: mm/dd/yyyy on an English one).
function isoToVi(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
  return m ? `${m[3]}/${m[2]}/${m[1]}` : "";
}

// "5/3/2026" or "05/03/2026" -> "2026-03-05"; null when it is no real date.
function viToIso(text) {
  const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})\s*$/.exec(text || "");
  if (!m) return null;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const probe = new Date(Date.UTC(y, mo - 1, d));
  if (probe.getUTCFullYear() !== y || probe.getUTCMonth() !== mo - 1 || probe.getUTCDate() !== d) return null;
  return `${y}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

// Minutes (and seconds under ten minutes) of a duration in seconds.
function minutes(s) {
  if (s == null) return "—";
  if (s < 600) return `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, "0")}`;
  return `${Math.round(s / 60)} ph`;
}

const STATUS_VI = {open: "Đang mở", paused: "Tạm nghỉ", closed: "Đóng"};
const PRINTER_VI = {
  ok: "Máy in sẵn sàng", paper_near_end: "Giấy sắp hết", paper_out: "Máy in hết giấy",
  cover_open: "Nắp máy in đang mở", offline: "Máy in không hoạt động",
  unplugged: "Máy in chưa cắm", unknown: "Không rõ trạng thái máy in",
};
