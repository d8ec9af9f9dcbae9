"""Every word the kiosk shows, Vietnamese first, English beside it, in one place.

Wording is changed here and nowhere else: screens and Python code refer to
keys.  ``t()`` returns NFC text, because Vietnamese typed on different
keyboards arrives composed or decomposed and a font draws decomposed marks
badly.  Names of fields and priority classes come from the site config,
which already normalises them.
"""
from __future__ import annotations

import datetime as dt
import unicodedata

LANGS = ("vi", "en")

STRINGS: dict[str, dict[str, str]] = {
    "home_title": {"vi": "Mời chọn lĩnh vực cần giải quyết", "en": "Please choose a service"},
    "listen": {"vi": "Nghe hướng dẫn", "en": "Listen"},
    "waiting": {"vi": "{n}\u00a0người đang chờ", "en": "{n}\u00a0waiting"},
    # No-break spaces keep "khoảng 12 phút" on one line, never "khoảng 1" / "2 phút".
    "waiting_estimate": {"vi": "{n}\u00a0người chờ · khoảng\u00a0{m}\u00a0phút", "en": "{n}\u00a0waiting · about\u00a0{m}\u00a0min"},
    "waiting_unknown": {"vi": "Đang cập nhật số người chờ", "en": "Updating the queue"},
    "tile_closed": {"vi": "Tạm ngừng nhận số", "en": "Not taking numbers now"},
    "tile_quota": {"vi": "Đã hết số hôm nay", "en": "No numbers left today"},
    "tile_day_closed": {"vi": "Đã hết giờ làm việc", "en": "Closed for today"},
    "priority_button": {"vi": "Ưu tiên", "en": "Priority"},
    "priority_hint": {"vi": "Người cao tuổi, khuyết tật, có thai…", "en": "Elderly, disability, pregnancy…"},
    "priority_title": {"vi": "Mời chọn đối tượng ưu tiên", "en": "Please choose your priority group"},
    "priority_banner": {"vi": "Ưu tiên: {name} – mời chọn lĩnh vực", "en": "Priority: {name} – choose a service"},
    "back": {"vi": "Quay lại", "en": "Back"},
    "home": {"vi": "Về màn hình chính", "en": "Back to start"},
    "printing": {"vi": "Đang in phiếu…", "en": "Printing your ticket…"},
    "your_number": {"vi": "Số thứ tự của bạn", "en": "Your number"},
    "take_ticket": {"vi": "Vui lòng nhận phiếu và chờ gọi số", "en": "Please take your ticket and wait to be called"},
    "ahead": {"vi": "Trước bạn còn {n}\u00a0người", "en": "{n}\u00a0people ahead of you"},
    "ahead_none": {"vi": "Bạn sẽ được gọi ngay", "en": "You will be called shortly"},
    "estimate_long": {"vi": "Thời gian chờ khoảng\u00a0{m}\u00a0phút", "en": "Estimated wait about\u00a0{m}\u00a0minutes"},
    "counters": {"vi": "Quầy phục vụ: {list}", "en": "Served at counter {list}"},
    "problem_title": {"vi": "Máy in phiếu đang gặp sự cố", "en": "The ticket printer has a problem"},
    "problem_do": {"vi": "Vui lòng ghi nhớ số này và báo cho cán bộ tại quầy",
                   "en": "Please remember this number and tell the staff at the counter"},
    "problem_staff": {"vi": "Cán bộ đã được thông báo", "en": "The staff have been told"},
    "reason_paper_out": {"vi": "Máy in hết giấy", "en": "The printer is out of paper"},
    "reason_cover_open": {"vi": "Nắp máy in đang mở", "en": "The printer cover is open"},
    "reason_offline": {"vi": "Máy in chưa sẵn sàng", "en": "The printer is not ready"},
    "reason_unplugged": {"vi": "Máy in chưa được kết nối", "en": "The printer is not connected"},
    "reason_unknown": {"vi": "Không in được phiếu", "en": "The ticket could not be printed"},
    "closed_title": {"vi": "Hiện không nhận số thứ tự", "en": "No numbers are being issued now"},
    "closed_hours": {"vi": "Ngoài giờ làm việc", "en": "Outside opening hours"},
    "closed_quota": {"vi": "Đã hết số thứ tự hôm nay cho lĩnh vực này",
                     "en": "All numbers for this service are taken today"},
    "closed_day": {"vi": "Trung tâm đã kết thúc ngày làm việc", "en": "The centre has closed for today"},
    "next_open": {"vi": "Mời quay lại lúc {time}, {date}", "en": "Please come back at {time}, {date}"},
    "ask_staff": {"vi": "Vui lòng hỏi cán bộ tại quầy", "en": "Please ask the staff at a counter"},
    "refused_title": {"vi": "Chưa lấy được số thứ tự", "en": "No number could be issued"},
    "busy_title": {"vi": "Hệ thống đang bận, vui lòng chờ trong giây lát",
                   "en": "The system is busy, please wait a moment"},
    "busy_sub": {"vi": "Không cần chạm lại. Phiếu sẽ được in ngay khi hệ thống sẵn sàng.",
                 "en": "No need to touch again. Your ticket will print as soon as the system is ready."},
    "gave_up": {"vi": "Hệ thống chưa sẵn sàng. Vui lòng báo cán bộ tại quầy.",
                "en": "The system is not ready. Please tell the staff at a counter."},
    "offline": {"vi": "Đang kết nối lại hệ thống…", "en": "Reconnecting…"},
    "lang_other": {"vi": "English", "en": "Tiếng Việt"},
    "admin_title": {"vi": "Nhập mã PIN quản trị", "en": "Enter the admin PIN"},
    "admin_exit": {"vi": "Thoát", "en": "Exit"},
    "admin_cancel": {"vi": "Hủy", "en": "Cancel"},
    "admin_wrong": {"vi": "Sai mã PIN", "en": "Wrong PIN"},
    "admin_locked": {"vi": "Tạm khóa, thử lại sau {s} giây", "en": "Locked, try again in {s} s"},
    "admin_clear": {"vi": "Xóa", "en": "Clear"},
    "admin_ok": {"vi": "Đồng ý", "en": "OK"},
    # The kiosk's own settings behind the admin PIN (kiosk/ui/settings.py).
    "set_title": {"vi": "Cài đặt kiosk", "en": "Kiosk settings"},
    "set_rotation": {"vi": "Xoay màn hình: {deg}°", "en": "Rotate screen: {deg}°"},
    "set_lang": {"vi": "Ngôn ngữ mặc định: {name}", "en": "Default language: {name}"},
    "set_lock": {"vi": "Tạm dừng phát số", "en": "Pause tickets"},
    "set_pin": {"vi": "Đổi mã PIN", "en": "Change the PIN"},
    "set_close": {"vi": "Đóng kiosk", "en": "Close the kiosk"},
    "set_back": {"vi": "Về màn hình chính", "en": "Back to start"},
    "set_printer": {"vi": "Máy in: {state}", "en": "Printer: {state}"},
    "set_printer_unknown": {"vi": "chưa có tin từ máy in", "en": "no news from the printer"},
    "locked_title": {"vi": "Tạm dừng phát số", "en": "Not issuing tickets now"},
    "locked_sub": {"vi": "Cán bộ nhập mã PIN để mở lại", "en": "Staff: enter the PIN to resume"},
    "newpin_first": {"vi": "Nhập mã PIN mới (4 đến 12 chữ số)", "en": "New PIN (4 to 12 digits)"},
    "newpin_again": {"vi": "Nhập lại mã PIN mới", "en": "The new PIN again"},
    "newpin_mismatch": {"vi": "Hai lần nhập không khớp", "en": "The two entries differ"},
    "newpin_short": {"vi": "Mã PIN cần từ 4 đến 12 chữ số", "en": "A PIN is 4 to 12 digits"},
    "newpin_done": {"vi": "Đã đổi mã PIN", "en": "PIN changed"},
}

WEEKDAYS = {
    "vi": ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")


def t(key: str, lang: str = "vi", **kw: object) -> str:
    """The text for ``key`` in ``lang``, filled with ``kw``, in NFC."""
    try:
        entry = STRINGS[key]
    except KeyError:
        raise KeyError(f"no kiosk string {key!r} in kiosk/ui/i18n.py") from None
    text = entry.get(lang) or entry["vi"]
    if kw:
        text = text.format(**kw)
    return unicodedata.normalize("NFC", text)


def other(lang: str) -> str:
    return "en" if lang == "vi" else "vi"


def date_text(day: dt.date, lang: str) -> str:
    wd = WEEKDAYS[lang][day.weekday()]
    if lang == "vi":
        return f"{wd}, {day.day:02d}/{day.month:02d}/{day.year}"
    return f"{wd} {day.day} {MONTHS_EN[day.month - 1]} {day.year}"


def minutes_text(minutes: float | None) -> str:
    # Whole minutes, at least 1: "0 phút" would promise an immediate call.
    if minutes is None:
        return "?"
    return str(max(1, round(minutes)))


def join_counters(numbers: list[int], lang: str) -> str:
    words = [str(n) for n in numbers]
    if len(words) <= 1:
        return "".join(words)
    # A no-break space keeps the last counter with its "hoặc" ("1 hoặc" / "2" never).
    last = " hoặc\u00a0" if lang == "vi" else " or\u00a0"
    return ", ".join(words[:-1]) + last + words[-1]
