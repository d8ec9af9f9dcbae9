"use strict";
document.getElementById("login").addEventListener("submit", async ev => {
  ev.preventDefault();
  const msg = document.getElementById("msg");
  msg.textContent = "Đang kiểm tra…";
  msg.className = "msg pending";
  const counter = document.getElementById("counter").value;
  const r = await post("/api/login", {
    code: document.getElementById("code").value,
    pin: document.getElementById("pin").value,
    counter: counter ? Number(counter) : null,
  });
  if (r.ok) { location.href = r.next; return; }
  msg.textContent = r.message || "Đăng nhập không thành công";
  // A refusal is an error: red, never the colour of success.
  msg.className = "msg bad";
  document.getElementById("pin").value = "";
});
