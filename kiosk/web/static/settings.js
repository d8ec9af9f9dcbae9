"use strict";
// The config editor of the admin pages: the centre, fields, counters,
// priority, rating and the display, drawn from the config the core runs
// (/api/config), edited in place, saved whole (/api/config/apply).  Every
// input carries the key it edits in data-loc ("fields[2].prefix"), the same
// path the config model names in an error, so an error lands next to it.

const DAYS = [["mon", "T2"], ["tue", "T3"], ["wed", "T4"], ["thu", "T5"], ["fri", "T6"], ["sat", "T7"], ["sun", "CN"]];
const ICON_VI = {"": "Theo mã lĩnh vực", "tu-phap": "Cán cân (tư pháp)", "chung-thuc": "Con dấu (chứng thực)",
  "dat-dai": "Ngôi nhà (đất đai)", "van-hoa-xa-hoi": "Mọi người (văn hoá – xã hội)", "kinh-te": "Biểu đồ (kinh tế)",
  "document": "Tờ giấy"};
const BOARD_VI = {panel: "Bảng riêng cạnh danh sách gọi số", rotate: "Luân phiên với danh sách gọi số", off: "Không hiện"};
// Which tab shows a top-level key, for an error on a tab not in view.
const TAB_OF = {site: "centre", hours: "centre", fields: "fields", counters: "counters-setup",
  priority: "priority", rating: "rating", display: "display"};

let LOADED = null;     // the /api/config answer the page was drawn from
let ED = null;         // the page's edits: the editable sections, changed in place
let SAVING = false;    // a save in flight: its own config/site is not "someone else's"

function editable(cfg) {
  const pick = (o, keys) => Object.fromEntries(keys.map(k => [k, o[k]]));
  return JSON.parse(JSON.stringify({
    site: pick(cfg.site, ["commune", "centre", "province"]), hours: cfg.hours, fields: cfg.fields,
    counters: cfg.counters, priority: pick(cfg.priority, ["interleave", "classes"]),
    rating: pick(cfg.rating, ["window_s", "levels"]),
    display: pick(cfg.display, ["notice", "public_board", "wait_target_min"])}));
}

// "fields[2].prefix" -> ["fields", 2, "prefix"]
function path(loc) {
  return loc.split(/\.|(?=\[)/).map(p => p.startsWith("[") ? Number(p.slice(1, -1)) : p);
}
function getAt(loc) { return path(loc).reduce((o, k) => o == null ? o : o[k], ED); }
function setAt(loc, v) {
  const p = path(loc); const last = p.pop();
  p.reduce((o, k) => o[k], ED)[last] = v;
}

// ---- small builders; each input is bound to its loc
function input(loc, label, {type = "text", kind = "str", size = 12, attrs = ""} = {}) {
  const v = getAt(loc);
  return `<label class="fld"><span>${label}</span><input data-loc="${loc}" data-kind="${kind}" type="${type}" size="${size}" ` +
    `value="${esc(v == null ? "" : v)}" ${attrs}></label>`;
}
function check(loc, label) {
  return `<label class="fld check"><input type="checkbox" data-loc="${loc}" data-kind="bool"${getAt(loc) ? " checked" : ""}> <span>${label}</span></label>`;
}
function select(loc, label, options) {
  const v = getAt(loc);
  return `<label class="fld"><span>${label}</span><select data-loc="${loc}" data-kind="str">` +
    Object.entries(options).map(([k, t]) => `<option value="${esc(k)}"${k === v ? " selected" : ""}>${esc(t)}</option>`).join("") +
    `</select></label>`;
}
function button(label, act, loc, extra = "") {
  return `<button type="button" class="small" data-act="${act}" data-at="${loc}" ${extra}>${label}</button>`;
}
function isNew(loc) {
  const p = path(loc); p.pop();
  const old = p.reduce((o, k) => o && o[k], LOADED.config) || [];
  const item = getAt(loc);
  if (item.code !== undefined) return item.code === "" || !old.some(o => o.code === item.code);
  return !old.some(o => o.number === item.number);
}

function sessions(loc) {
  const rows = getAt(loc) || [];
  return rows.map((s, i) => `<div class="row session" data-loc="${loc}[${i}]">` +
    `<fieldset class="days" data-loc="${loc}[${i}].days"><legend class="sr">Ngày</legend>` +
    DAYS.map(([d, t]) => `<label class="day"><input type="checkbox" data-day="${d}" data-at="${loc}[${i}].days"${s.days.includes(d) ? " checked" : ""}>${t}</label>`).join("") +
    `</fieldset>` + input(`${loc}[${i}].open`, "Mở", {size: 5, attrs: 'placeholder="07:00"'}) +
    input(`${loc}[${i}].close`, "Đóng", {size: 5, attrs: 'placeholder="11:30"'}) +
    button("Xoá buổi", "remove", `${loc}[${i}]`) + `</div>`).join("");
}

// ---- the sections
function drawCentre() {
  $("site-form").innerHTML = input("site.commune", "Tên xã, phường", {size: 28}) +
    input("site.centre", "Tên trung tâm", {size: 48}) + input("site.province", "Tỉnh, thành phố", {size: 20});
  $("hours").innerHTML = sessions("hours");
}

function drawFields() {
  $("fields").innerHTML = ED.fields.map((f, i) => {
    const at = `fields[${i}]`;
    const own = f.hours != null;
    return `<div class="item" data-loc="${at}"><div class="item-head">${fieldHead(f, at)}</div><div class="form-grid">` +
      (isNew(at) ? input(`${at}.code`, "Mã (chữ thường, không dấu)", {size: 14}) : "") +
      input(`${at}.name_vi`, "Tên tiếng Việt", {size: 26}) + input(`${at}.name_en`, "Tên tiếng Anh", {size: 22}) +
      input(`${at}.prefix`, "Tiền tố số", {size: 3, attrs: 'maxlength="2"'}) +
      input(`${at}.minutes_per_citizen`, "Phút mỗi người", {type: "number", kind: "num", size: 5, attrs: 'step="any"'}) +
      input(`${at}.daily_quota`, "Số phiếu tối đa mỗi ngày", {type: "number", kind: "int", size: 5}) +
      select(`${at}.icon`, "Biểu tượng", Object.fromEntries([""].concat(LOADED.icons).map(k => [k, ICON_VI[k] || k]))) +
      check(`${at}.closed`, "Tạm ngừng nhận số") +
      `<label class="fld check"><input type="checkbox" data-act="own-hours" data-at="${at}"${own ? " checked" : ""}> <span>Giờ riêng</span></label>` +
      `</div>` + (own ? `<div class="own-hours" data-loc="${at}.hours">${sessions(`${at}.hours`)}` +
        button("+ Thêm buổi", "add-session", `${at}.hours`) + `</div>` : "") + `</div>`;
  }).join("");
}

function fieldHead(f, at) {
  return `<b>${esc(f.name_vi || "Lĩnh vực mới")}</b><span class="muted">${esc(f.code)}</span>` +
    (f.closed ? '<span class="tag">Tạm ngừng nhận số</span>' : "") +
    `<span class="grow"></span>${button("Xoá lĩnh vực", "remove", at)}`;
}

function drawCounters() {
  $("counters-setup").innerHTML = ED.counters.map((c, i) => {
    const at = `counters[${i}]`;
    const others = ED.fields.filter(f => !c.fields.includes(f.code));
    return `<div class="item" data-loc="${at}"><div class="item-head"><b>${esc(c.name)}</b><span class="grow"></span>` +
      `${button("Xoá quầy", "remove", at)}</div><div class="form-grid">` +
      (isNew(at) ? input(`${at}.number`, "Số quầy", {type: "number", kind: "int", size: 4}) : "") +
      input(`${at}.name`, "Tên quầy", {size: 20}) + `</div>` +
      `<ol class="served" data-loc="${at}.fields" aria-label="Lĩnh vực ${esc(c.name)} phục vụ, theo thứ tự gọi">` +
      c.fields.map((code, j) => `<li data-code="${esc(code)}"><span>${esc(fieldTitle(code))}</span>` +
        button("▲", "up", `${at}.fields[${j}]`, `aria-label="Đưa ${esc(fieldTitle(code))} lên"${j ? "" : " disabled"}`) +
        button("▼", "down", `${at}.fields[${j}]`, `aria-label="Đưa ${esc(fieldTitle(code))} xuống"${j < c.fields.length - 1 ? "" : " disabled"}`) +
        button("Bỏ", "remove", `${at}.fields[${j}]`, `aria-label="Bỏ ${esc(fieldTitle(code))}"`) + `</li>`).join("") + `</ol>` +
      (others.length ? `<div class="inline"><label class="fld"><span>Thêm lĩnh vực</span><select class="add-field" aria-label="Lĩnh vực thêm vào ${esc(c.name)}">` +
        others.map(f => `<option value="${esc(f.code)}">${esc(f.name_vi || f.code)}</option>`).join("") +
        `</select></label>${button("Thêm", "add-field", at)}</div>` : "") + `</div>`;
  }).join("");
}

function fieldTitle(code) {
  const f = ED.fields.find(f => f.code === code);
  return f ? `${f.prefix} · ${f.name_vi}` : code;
}

function drawPriority() {
  $("priority-form").innerHTML = input("priority.interleave", "Sau bao nhiêu lượt ưu tiên liên tiếp thì gọi một người thường",
    {type: "number", kind: "int", size: 4});
  $("classes").innerHTML = ED.priority.classes.map((p, i) => {
    const at = `priority.classes[${i}]`;
    return `<div class="row" data-loc="${at}">` +
      (isNew(at) ? input(`${at}.code`, "Mã", {size: 12}) : `<span class="code">${esc(p.code)}</span>`) +
      input(`${at}.name_vi`, "Tên tiếng Việt", {size: 26}) + input(`${at}.name_en`, "Tên tiếng Anh", {size: 22}) +
      button("Xoá", "remove", at) + `</div>`;
  }).join("");
}

function drawRating() {
  $("rating-form").innerHTML = input("rating.window_s", "Thời gian chờ đánh giá sau khi xong (giây)",
    {type: "number", kind: "num", size: 5});
  const n = ED.rating.levels.length;
  $("levels").innerHTML = ED.rating.levels.map((lv, i) => {
    const at = `rating.levels[${i}]`;
    return `<div class="row" data-loc="${at}"><span class="num">${i + 1}</span>` +
      (isNew(at) ? input(`${at}.code`, "Mã", {size: 12}) : `<span class="code">${esc(lv.code)}</span>`) +
      input(`${at}.name_vi`, "Tên tiếng Việt", {size: 18}) + input(`${at}.name_en`, "Tên tiếng Anh", {size: 16}) +
      check(`${at}.satisfied`, "Tính là hài lòng") +
      button("▲", "up", at, `aria-label="Đưa lên"${i ? "" : " disabled"}`) +
      button("▼", "down", at, `aria-label="Đưa xuống"${i < n - 1 ? "" : " disabled"}`) +
      button("Xoá", "remove", at) + `</div>`;
  }).join("");
}

function drawDisplay() {
  const d = ED.display;
  $("display-form").innerHTML =
    `<label class="fld wide"><span>Dòng chữ chạy trên màn hình</span><textarea data-loc="display.notice" data-kind="str" rows="2">${esc(d.notice)}</textarea></label>` +
    select("display.public_board", "Bảng công khai kết quả", BOARD_VI) +
    input("display.wait_target_min", "Chờ không quá (phút) thì tính là đúng hẹn", {type: "number", kind: "int", size: 4});
}

function drawAll() {
  drawCentre(); drawFields(); drawCounters(); drawPriority(); drawRating(); drawDisplay();
  if (!EDIT) document.querySelectorAll(".tab.config input, .tab.config select, .tab.config textarea, .tab.config button")
    .forEach(e => e.disabled = true);
  if (!EDIT) document.querySelectorAll(".tab.config button").forEach(e => e.classList.add("hidden"));
  markDirty();
}

// ---- editing
function valueOf(el) {
  if (el.dataset.kind === "bool") return el.checked;
  const t = el.value.trim();
  if (el.dataset.kind === "int") return /^-?\d+$/.test(t) ? Number(t) : t;
  if (el.dataset.kind === "num") return t !== "" && !isNaN(Number(t)) ? Number(t) : t;
  return el.tagName === "TEXTAREA" ? el.value : t;
}

// Typing updates the edits at once (a save right after needs no blur);
// the headings and lists that show the value follow when the input is left.
document.querySelector("main").addEventListener("input", ev => {
  const el = ev.target;
  if (el.dataset.loc && el.dataset.kind && el.type !== "checkbox") { setAt(el.dataset.loc, valueOf(el)); markDirty(); }
});
document.querySelector("main").addEventListener("change", ev => {
  const el = ev.target;
  if (el.dataset.loc && el.dataset.kind) { setAt(el.dataset.loc, valueOf(el)); redrawHeads(el); markDirty(); }
  else if (el.dataset.day) {
    const days = getAt(el.dataset.at);
    const want = DAYS.map(d => d[0]).filter(d => d === el.dataset.day ? el.checked : days.includes(d));
    setAt(el.dataset.at, want); markDirty();
  } else if (el.dataset.act === "own-hours") {
    const at = el.dataset.at;
    setAt(`${at}.hours`, el.checked ? JSON.parse(JSON.stringify(ED.hours)) : null);
    drawFields(); markDirty();
  }
});

// Names show in headings and in other areas' lists: those follow, while the
// input itself is left alone (redrawing it would take the focus back from
// wherever Tab moved it).
function redrawHeads(el) {
  const loc = el.dataset.loc;
  if (/^fields\[\d+\]\.(name_vi|prefix|closed)$/.test(loc)) drawCounters();
  if (/^fields\[\d+\]\.(name_vi|closed)$/.test(loc)) {
    el.closest(".item").querySelector(".item-head").innerHTML = fieldHead(getAt(loc.split(".")[0]), loc.split(".")[0]);
  }
  if (/^counters\[\d+\]\.name$/.test(loc)) el.closest(".item").querySelector(".item-head b").textContent = valueOf(el);
}

const REDRAW = {fields: () => { drawFields(); drawCounters(); }, counters: drawCounters, hours: drawCentre,
  priority: drawPriority, rating: drawRating};

document.querySelector("main").addEventListener("click", ev => {
  const b = ev.target.closest("button[data-act]");
  if (!b || !b.closest(".tab.config")) return;
  const at = b.dataset.at, act = b.dataset.act;
  const p = path(at), top = p[0];
  if (act === "add-field") {
    const code = b.closest(".inline").querySelector("select.add-field").value;
    getAt(`${at}.fields`).push(code);
  } else if (act === "add-session") {
    getAt(at).push({days: ["mon", "tue", "wed", "thu", "fri"], open: "07:00", close: "11:30"});
  } else {
    const i = p.pop(); const list = p.reduce((o, k) => o[k], ED);
    if (act === "remove") {
      const gone = list.splice(i, 1)[0];
      // A deleted field leaves the counters too; the core still refuses it while people wait.
      if (top === "fields" && p.length === 1) ED.counters.forEach(c => c.fields = c.fields.filter(f => f !== gone.code));
    } else if (act === "up" && i > 0) [list[i - 1], list[i]] = [list[i], list[i - 1]];
    else if (act === "down" && i < list.length - 1) [list[i + 1], list[i]] = [list[i], list[i + 1]];
  }
  (REDRAW[top] || drawAll)();
  if (top === "fields") drawCounters();
  markDirty();
  const again = document.querySelector(`button[data-act="${act}"][data-at="${CSS.escape(at)}"]`);
  if (again && !again.disabled) again.focus();
});

function addItem(list, item, draw) { list.push(item); draw(); markDirty();
  const all = document.querySelectorAll(".tab:not(.hidden) .item, .tab:not(.hidden) .row");
  const last = all[all.length - 1]; if (last) { const i = last.querySelector("input"); if (i) i.focus(); } }

$("hours-add").onclick = () => addItem(ED.hours, {days: ["mon", "tue", "wed", "thu", "fri"], open: "07:00", close: "11:30"}, drawCentre);
$("fields-add").onclick = () => {
  const used = new Set(ED.fields.map(f => f.prefix));
  const prefix = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZ"].find(c => !used.has(c)) || "";
  addItem(ED.fields, {code: "", name_vi: "", name_en: "", prefix, minutes_per_citizen: 10, daily_quota: 999,
    hours: null, icon: "", closed: false}, () => { drawFields(); drawCounters(); });
};
$("counters-add").onclick = () => {
  const n = Math.max(0, ...ED.counters.map(c => c.number)) + 1;
  addItem(ED.counters, {number: n, name: `Quầy ${n}`, fields: ED.fields.length ? [ED.fields[0].code] : []}, drawCounters);
};
$("classes-add").onclick = () => addItem(ED.priority.classes, {code: "", name_vi: "", name_en: ""}, drawPriority);
$("levels-add").onclick = () => addItem(ED.rating.levels, {code: "", name_vi: "", name_en: "", satisfied: false}, drawRating);

function markDirty() {
  const dirty = LOADED && JSON.stringify(ED) !== JSON.stringify(editable(LOADED.config));
  $("dirty").classList.toggle("hidden", !dirty);
  return dirty;
}

// ---- saving
function clearErrors() {
  document.querySelectorAll(".err").forEach(e => e.remove());
  document.querySelectorAll(".invalid").forEach(e => { e.classList.remove("invalid"); e.removeAttribute("aria-invalid"); });
  document.querySelectorAll("#tabs a .count").forEach(e => e.remove());
  $("save-lines").innerHTML = "";
}

// The element an error's loc names, else its nearest enclosing one ("fields[2].hours[0].open" -> "fields[2]").
function target(loc) {
  let l = loc;
  while (l) {
    const el = document.querySelector(`[data-loc="${CSS.escape(l)}"]`);
    if (el) return el;
    const cut = Math.max(l.lastIndexOf("."), l.lastIndexOf("["));
    l = cut > 0 ? l.slice(0, cut) : "";
  }
  return null;
}

function showErrors(errors) {
  const tabs = {};
  let first = null;
  for (const e of errors) {
    const el = target(e.loc);
    const note = document.createElement("span");
    note.className = "err"; note.setAttribute("role", "alert");
    note.dataset.for = e.loc; note.textContent = e.text || e.message;
    note.title = e.message;
    if (el && ["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName)) {
      el.classList.add("invalid"); el.setAttribute("aria-invalid", "true");
      el.closest("label").appendChild(note);
    } else if (el && el.tagName === "OL") {
      el.classList.add("invalid"); el.before(note);
    } else if (el) {
      el.classList.add("invalid"); el.prepend(note);
    } else {
      $("save-lines").insertAdjacentHTML("beforeend", `<li class="bad">${esc(e.loc)}: ${esc(e.text || e.message)}</li>`);
    }
    const tab = TAB_OF[path(e.loc || "site")[0]];
    if (tab) tabs[tab] = (tabs[tab] || 0) + 1;
    if (!first && el) first = {el, tab};
  }
  for (const [tab, n] of Object.entries(tabs)) {
    document.querySelector(`#tabs a[data-tab="${tab}"]`).insertAdjacentHTML("beforeend", ` <span class="count">${n}</span>`);
  }
  if (first) {
    if (first.tab && location.hash.slice(1) !== first.tab) { location.hash = first.tab; }
    setTimeout(() => { const f = first.el.matches("input,select,textarea") ? first.el : first.el.querySelector("input,select,button");
      if (f) f.focus(); first.el.scrollIntoView({block: "center"}); }, 0);
  }
}

function sayLines(kind, lines) {
  $("save-lines").insertAdjacentHTML("beforeend", lines.map(l => `<li class="${kind}">${esc(l)}</li>`).join(""));
}

$("save").onclick = async () => {
  clearErrors();
  $("save-msg").textContent = "Đang lưu…"; $("save-msg").className = "msg pending";
  $("save").disabled = true;
  SAVING = true;
  try { await saveNow(); } finally { SAVING = false; $("save").disabled = false; }
};

async function saveNow() {
  const r = await post("/api/config/apply", {base: LOADED.hash, edits: ED});
  $("save-msg").className = "msg" + (r.ok ? "" : " bad");
  if (r.ok) {
    // The saved config first, then the message with its lines at once: a
    // reader (or a test) that sees "Đã lưu" also sees what was saved.
    await reloadConfig();
    $("save-msg").textContent = r.changes.length ? `Đã lưu phiên bản ${r.version}` : "Không có gì thay đổi";
    sayLines("change", r.changes); sayLines("effect", r.effects || []);
    return;
  }
  $("save-msg").textContent = r.message || "Không lưu được";
  if (r.errors && r.errors.length) showErrors(r.errors);
  if (r.reasons && r.reasons.length) sayLines("bad", r.reasons);
  if (r.keys && r.keys.length) sayLines("bad", r.keys.map(k => `${k}: cần sửa tệp cấu hình và khởi động lại`));
  if (r.code === "config_stale") $("save-lines").insertAdjacentHTML("beforeend",
    `<li class="bad"><button type="button" class="small" id="stale-reload">Tải lại cấu hình mới nhất</button> (các sửa đổi chưa lưu sẽ mất)</li>`);
  const b = $("stale-reload"); if (b) b.onclick = () => reloadConfig().then(() => { $("save-msg").textContent = ""; $("save-lines").innerHTML = ""; });
}

$("revert").onclick = () => { clearErrors(); $("save-msg").textContent = ""; ED = editable(LOADED.config); drawAll(); };

async function reloadConfig() {
  const r = await fetch("/api/config", {credentials: "same-origin"});
  LOADED = await r.json();
  ED = editable(LOADED.config);
  $("version").textContent = LOADED.version != null ? `Phiên bản ${LOADED.version}` +
    (LOADED.at ? ` · ${LOADED.at}` : "") +
    (LOADED.by ? ` · ${LOADED.by === "file" ? "tệp cấu hình" : LOADED.by}` : "") : "";
  if (!$("voice-text").value) $("voice-text").value = LOADED.voice_sample || "";
  document.body.dataset.hash = LOADED.hash;
  drawAll();
}

// Someone saved (here or elsewhere): untouched pages follow; a page with edits is told.
function configChanged(info) {
  if (SAVING || !LOADED || !info || info.hash === LOADED.hash) return;
  if (!markDirty()) { reloadConfig(); return; }
  $("save-msg").className = "msg bad";
  $("save-msg").textContent = `Có người vừa lưu phiên bản ${info.version} (${info.by || "?"}); lưu bây giờ sẽ bị từ chối — tải lại rồi sửa lại.`;
}

reloadConfig();
