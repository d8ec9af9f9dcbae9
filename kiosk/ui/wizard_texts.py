"""The wizard's words, Vietnamese (the person setting up a commune centre
reads Vietnamese; the citizen screens have English too, this does not)."""
from __future__ import annotations

import unicodedata

STEPS = ("name", "fields", "counters", "hours", "pin", "printer", "voice", "summary")

W: dict[str, str] = {
    "title": "Cài đặt ban đầu",
    "step": "Bước {i}/{n}",
    "back": "Quay lại",
    "next": "Tiếp theo",
    "save": "Lưu và bắt đầu",
    "done": "Xong",
    "name_prompt": "Chạm vào ô cần sửa rồi gõ kiểu Telex (aa = â, dd = đ, s f r x j = dấu).",
    "commune": "Tên xã",
    "centre": "Tên trung tâm",
    "field_name": "Tên lĩnh vực",
    "need_names": "Cần nhập tên xã và tên trung tâm",
    "need_text": "Tên không được để trống",
    "fields_prompt": "Chọn các lĩnh vực trung tâm tiếp nhận.",
    "fields_edit": "Sửa tên",
    "fields_editing": "Chạm lĩnh vực cần sửa tên",
    "fields_more": "Xem thêm ({i}/{n})",
    "need_field": "Cần chọn ít nhất một lĩnh vực",
    "counters_prompt": "Số quầy:",
    "counter": "Quầy {n}",
    "serves": "Quầy {n} tiếp nhận:",
    "hours_prompt": "Giờ làm việc thứ Hai – thứ Sáu",
    "am_open": "Sáng mở cửa", "am_close": "Sáng đóng cửa",
    "pm_open": "Chiều mở cửa", "pm_close": "Chiều đóng cửa",
    "saturday_on": "Sáng thứ Bảy: có làm việc",
    "saturday_off": "Sáng thứ Bảy: nghỉ",
    "bad_hours": "Giờ đóng cửa phải sau giờ mở cửa, buổi chiều sau buổi sáng",
    "pin_first": "Đặt mã PIN quản trị (4 đến 12 chữ số)",
    "pin_again": "Nhập lại mã PIN để xác nhận",
    "pin_note": "Mã này mở phần cài đặt của kiosk và là mật khẩu của tài khoản «admin» trên trang quản trị.",
    "pin_ok": "Đồng ý",
    "pin_clear": "Xóa",
    "pin_short": "Mã PIN cần từ 4 đến 12 chữ số",
    "pin_mismatch": "Hai lần nhập không khớp, mời nhập lại",
    "pin_set": "Đã đặt mã PIN",
    "need_pin": "Cần đặt mã PIN quản trị",
    "printer_prompt": "Chọn máy in phiếu rồi in thử.",
    "printer_none": "Không dùng máy in",
    "printer_test": "In phiếu thử",
    "printer_testing": "Đang in thử…",
    "printer_printed": "Đã in: máy in trả lời «{state}» ({detail}), {bytes} byte",
    "printer_failed": "Không in được: {state} ({detail})",
    "printer_absent": "Không có máy in: số thứ tự chỉ hiện trên màn hình",
    "voice_prompt": "Phát thử một lần gọi số bằng giọng đọc của kiosk:",
    "voice_sentence": "Mời công dân có số thứ tự {label} đến quầy số 1",
    "voice_test": "Phát thử",
    "voice_speaking": "Đang đọc…",
    "voice_done": "Đã đọc (tệp {name})",
    "voice_failed": "Không đọc được: {why}",
    "summary_prompt": "Kiểm tra lại rồi bấm «Lưu và bắt đầu»",
    "sum_name": "{commune} · {centre}",
    "sum_fields": "Lĩnh vực: {list}",
    "sum_counters": "{n} quầy: {list}",
    "sum_hours": "Giờ: {hours}",
    "sum_printer": "Máy in: {printer} · mã trang: {site_id}",
    "save_failed": "Không lưu được: {why}",
    "starting": "Đang khởi động…",
    "wait_password": "Đang chờ máy chủ tin nhắn tạo mật khẩu cho kiosk",
    "wait_core": "Đang chờ máy chủ trung tâm trả lời",
}


def w(key: str, **kw) -> str:
    return unicodedata.normalize("NFC", W[key].format(**kw) if kw else W[key])
