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
    # {w}: kiosk.waitwords.short() ("≈ 12 phút", "15–35 phút", "chờ quầy mở
    # lại"), whose no-break spaces keep a number with its unit on one line.
    "waiting_estimate": {"vi": "{n}\u00a0người chờ · {w}", "en": "{n}\u00a0waiting · {w}"},
    "waiting_unknown": {"vi": "Đang cập nhật số người chờ", "en": "Updating the queue"},
    "tile_closed": {"vi": "Tạm ngừng nhận số", "en": "Not taking numbers now"},
    "tile_quota": {"vi": "Đã hết số hôm nay", "en": "No numbers left today"},
    "tile_day_closed": {"vi": "Đã hết giờ làm việc", "en": "Closed for today"},
    # fields.closed: the head took the field out of service for now.
    "tile_field_closed": {"vi": "Tạm ngừng nhận hồ sơ", "en": "Not taking applications for now"},
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
    # {w}: kiosk.waitwords.phrase(), "khoảng 20 phút (15–35 phút)" (docs/wait.md).
    "estimate_long": {"vi": "Thời gian chờ {w}", "en": "Estimated wait {w}"},
    # No open counter serves the field (all paused): no number can be promised.
    "estimate_paused": {"vi": "Các quầy đang tạm dừng, vui lòng chờ quầy mở lại",
                        "en": "The counters are paused; please wait until one reopens"},
    # Nobody ahead, but the counters are still busy for a while (ahead_none
    # would promise a call at once).
    "ahead_zero": {"vi": "Không có ai chờ trước bạn", "en": "Nobody is ahead of you"},
    # Read aloud, a range "15–35 phút" is "15 đến 35 phút": a voice skips the dash.
    "range_to": {"vi": "đến", "en": "to"},
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
    "closed_field": {"vi": "Lĩnh vực này đang tạm ngừng nhận hồ sơ",
                     "en": "This service is not taking applications for now"},
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
    # The right PIN opens the kiosk's settings (kiosk/ui/settings.py), closing is one of them.
    "admin_exit": {"vi": "Mở", "en": "Open"},
    "admin_cancel": {"vi": "Hủy", "en": "Cancel"},
    "admin_wrong": {"vi": "Sai mã PIN", "en": "Wrong PIN"},
    "admin_locked": {"vi": "Tạm khóa, thử lại sau {s} giây", "en": "Locked, try again in {s} s"},
    "admin_clear": {"vi": "Xóa", "en": "Clear"},
    "admin_save": {"vi": "Lưu", "en": "Save"},
    # The first-run wizard (kiosk/ui/wizard.py).  centre_prefix, levels,
    # admin_name, counter_name and voice_sentence are data written into the
    # config or spoken, so Vietnamese in both columns.
    "wz_title": {"vi": "Cài đặt ban đầu", "en": "First-run setup"},
    "wz_step": {"vi": "Bước {i}/{n}", "en": "Step {i}/{n}"},
    "wz_back": {"vi": "Quay lại", "en": "Back"},
    "wz_next": {"vi": "Tiếp theo", "en": "Next"},
    "wz_save": {"vi": "Lưu và bắt đầu", "en": "Save and start"},
    "wz_done": {"vi": "Xong", "en": "Done"},
    "wz_name_prompt": {"vi": "Chạm vào ô cần sửa rồi gõ kiểu Telex (aa = â, dd = đ, s f r x j = dấu).", "en": "Touch a box, then type in Telex (aa = â, dd = đ, s f r x j = tones)."},
    "wz_commune": {"vi": "Tên xã", "en": "Commune"},
    "wz_centre": {"vi": "Tên trung tâm", "en": "Centre"},
    "wz_field_name": {"vi": "Tên lĩnh vực", "en": "Field name"},
    "wz_need_names": {"vi": "Cần nhập tên xã và tên trung tâm", "en": "Type the commune's and the centre's names"},
    "wz_need_text": {"vi": "Tên không được để trống", "en": "A name cannot be empty"},
    "wz_fields_prompt": {"vi": "Chọn các lĩnh vực trung tâm tiếp nhận.", "en": "Choose the fields the centre takes."},
    "wz_fields_edit": {"vi": "Sửa tên", "en": "Rename"},
    "wz_fields_editing": {"vi": "Chạm lĩnh vực cần sửa tên", "en": "Touch a field to rename it"},
    "wz_fields_more": {"vi": "Xem thêm ({i}/{n})", "en": "More ({i}/{n})"},
    "wz_need_field": {"vi": "Cần chọn ít nhất một lĩnh vực", "en": "Choose at least one field"},
    "wz_counters_prompt": {"vi": "Số quầy:", "en": "Counters:"},
    "wz_counter": {"vi": "Quầy {n}", "en": "Counter {n}"},
    "wz_serves": {"vi": "Quầy {n} tiếp nhận:", "en": "Counter {n} takes:"},
    "wz_hours_prompt": {"vi": "Ngày và giờ làm việc", "en": "Working days and hours"},
    "wz_day_mon": {"vi": "T2", "en": "Mo"},
    "wz_day_tue": {"vi": "T3", "en": "Tu"},
    "wz_day_wed": {"vi": "T4", "en": "We"},
    "wz_day_thu": {"vi": "T5", "en": "Th"},
    "wz_day_fri": {"vi": "T6", "en": "Fr"},
    "wz_day_sat": {"vi": "T7", "en": "Sa"},
    "wz_day_sun": {"vi": "CN", "en": "Su"},
    "wz_need_days": {"vi": "Cần chọn ít nhất một ngày làm việc", "en": "Choose at least one working day"},
    "wz_am_open": {"vi": "Sáng mở cửa", "en": "Morning opens"},
    "wz_am_close": {"vi": "Sáng đóng cửa", "en": "Morning closes"},
    "wz_pm_open": {"vi": "Chiều mở cửa", "en": "Afternoon opens"},
    "wz_pm_close": {"vi": "Chiều đóng cửa", "en": "Afternoon closes"},
    "wz_saturday_on": {"vi": "Thêm sáng thứ Bảy: có", "en": "Saturday morning too: yes"},
    "wz_saturday_off": {"vi": "Thêm sáng thứ Bảy: không", "en": "Saturday morning too: no"},
    "wz_bad_hours": {"vi": "Giờ đóng cửa phải sau giờ mở cửa, buổi chiều sau buổi sáng", "en": "Closing must follow opening, the afternoon the morning"},
    "wz_pin_first": {"vi": "Đặt mã PIN quản trị (4 đến 12 chữ số)", "en": "Set the admin PIN (4 to 12 digits)"},
    "wz_pin_again": {"vi": "Nhập lại mã PIN để xác nhận", "en": "The PIN again, to confirm"},
    "wz_pin_note": {"vi": "Mã này mở phần cài đặt của kiosk và là mật khẩu của tài khoản «admin» trên trang quản trị.", "en": "It opens the kiosk's settings and is the password of the «admin» account on the admin pages."},
    "wz_pin_ok": {"vi": "Đồng ý", "en": "OK"},
    "wz_pin_clear": {"vi": "Xóa", "en": "Clear"},
    "wz_pin_short": {"vi": "Mã PIN cần từ 4 đến 12 chữ số", "en": "A PIN is 4 to 12 digits"},
    "wz_pin_mismatch": {"vi": "Hai lần nhập không khớp, mời nhập lại", "en": "The two entries differ, type it again"},
    "wz_pin_set": {"vi": "Đã đặt mã PIN", "en": "The PIN is set"},
    "wz_need_pin": {"vi": "Cần đặt mã PIN quản trị", "en": "Set the admin PIN"},
    "wz_printer_prompt": {"vi": "Chọn máy in phiếu rồi in thử.", "en": "Choose the ticket printer, then print a test."},
    "wz_printer_none": {"vi": "Không dùng máy in", "en": "No printer"},
    "wz_printer_usb": {"vi": "Máy in USB {name}", "en": "USB printer {name}"},
    "wz_printer_serial": {"vi": "Cổng nối tiếp {name}", "en": "Serial port {name}"},
    "wz_printer_test": {"vi": "In phiếu thử", "en": "Print a test ticket"},
    "wz_printer_testing": {"vi": "Đang in thử…", "en": "Printing a test…"},
    "wz_printer_printed": {"vi": "Đã in: máy in trả lời «{state}» ({detail}), {bytes} byte", "en": "Printed: the printer said «{state}» ({detail}), {bytes} bytes"},
    "wz_printer_failed": {"vi": "Không in được: {state} ({detail})", "en": "Not printed: {state} ({detail})"},
    "wz_printer_absent": {"vi": "Không có máy in: số thứ tự chỉ hiện trên màn hình", "en": "No printer: numbers show on the screen only"},
    "wz_voice_prompt": {"vi": "Phát thử một lần gọi số bằng giọng đọc của kiosk:", "en": "Play a test call in the kiosk's voice:"},
    "wz_voice_sentence": {"vi": "Mời công dân có số thứ tự {label} đến quầy số 1", "en": "Mời công dân có số thứ tự {label} đến quầy số 1"},
    "wz_voice_test": {"vi": "Phát thử", "en": "Play"},
    "wz_voice_speaking": {"vi": "Đang đọc…", "en": "Speaking…"},
    "wz_voice_done": {"vi": "Đã đọc (tệp {name})", "en": "Spoken (file {name})"},
    "wz_voice_failed": {"vi": "Không đọc được: {why}", "en": "Not spoken: {why}"},
    "wz_summary_prompt": {"vi": "Kiểm tra lại rồi bấm «Lưu và bắt đầu»", "en": "Check, then touch «Save and start»"},
    "wz_sum_name": {"vi": "{commune} · {centre}", "en": "{commune} · {centre}"},
    "wz_sum_fields": {"vi": "Lĩnh vực: {list}", "en": "Fields: {list}"},
    "wz_sum_counters": {"vi": "{n} quầy: {list}", "en": "{n} counters: {list}"},
    "wz_sum_hours": {"vi": "Giờ: {hours}", "en": "Hours: {hours}"},
    "wz_sum_printer": {"vi": "Máy in: {printer} · mã trang: {site_id}", "en": "Printer: {printer} · site id: {site_id}"},
    "wz_save_failed": {"vi": "Không lưu được: {why}", "en": "Not saved: {why}"},
    "wz_starting": {"vi": "Đang khởi động…", "en": "Starting…"},
    "wz_wait_password": {"vi": "Đang chờ máy chủ tin nhắn tạo mật khẩu cho kiosk", "en": "Waiting for the message broker to make the kiosk's password"},
    "wz_wait_core": {"vi": "Đang chờ máy chủ trung tâm trả lời", "en": "Waiting for the centre's core to answer"},
    "wz_centre_prefix": {"vi": "Trung tâm Phục vụ hành chính công ", "en": "Trung tâm Phục vụ hành chính công "},
    "wz_levels": {"vi": "xã|phường|thị trấn|đặc khu", "en": "xã|phường|thị trấn|đặc khu"},
    "wz_admin_name": {"vi": "Quản trị viên", "en": "Quản trị viên"},
    "wz_unserved": {"vi": "Chưa có quầy nào phục vụ «{name}»", "en": "No counter takes «{name}»"},
    "wz_counter_empty": {"vi": "Quầy {n} chưa phục vụ lĩnh vực nào", "en": "Counter {n} takes no field"},
    "wz_counter_name": {"vi": "Quầy {n}", "en": "Quầy {n}"},
    "wz_kb_back": {"vi": "Xóa", "en": "Delete"},
    "wz_kb_shift": {"vi": "Chữ hoa", "en": "Shift"},
    "wz_kb_space": {"vi": "Dấu cách", "en": "Space"},
    # The kiosk's own settings behind the admin PIN (kiosk/ui/settings.py).
    "set_title": {"vi": "Cài đặt kiosk", "en": "Kiosk settings"},
    "set_rotation": {"vi": "Xoay màn hình: {deg}°", "en": "Rotate screen: {deg}°"},
    "set_lang": {"vi": "Ngôn ngữ mặc định: {name}", "en": "Default language: {name}"},
    "set_lang_vi": {"vi": "Tiếng Việt", "en": "Vietnamese"},
    "set_lang_en": {"vi": "English", "en": "English"},
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


def join_counters(numbers: list[int], lang: str) -> str:
    words = [str(n) for n in numbers]
    if len(words) <= 1:
        return "".join(words)
    # A no-break space keeps the last counter with its "hoặc" ("1 hoặc" / "2" never).
    last = " hoặc\u00a0" if lang == "vi" else " or\u00a0"
    return ", ".join(words[:-1]) + last + words[-1]
