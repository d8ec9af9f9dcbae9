"""Every word a report shows, Vietnamese first, English on request.

One catalogue, so the table, the CSV, the spreadsheet and the charts say the
same thing; docs/reports.md defines each figure under the same headers.
Level, field and official names come from the site config and the roster.
"""
from __future__ import annotations

import unicodedata

LANGS = ("vi", "en")

_TEXT: dict[str, tuple[str, str]] = {
    # group columns
    "key.official": ("Mã cán bộ", "Official"),
    "name.official": ("Họ tên", "Name"),
    "key.counter": ("Quầy", "Counter"),
    "name.counter": ("Tên quầy", "Counter name"),
    "key.field": ("Mã lĩnh vực", "Field code"),
    "name.field": ("Lĩnh vực", "Field"),
    "key.day": ("Ngày", "Day"),
    "key.hour": ("Giờ lấy số", "Hour of issue"),
    # figures
    "issued": ("Số phiếu cấp", "Tickets issued"),
    "served": ("Đã phục vụ", "Served"),
    "no_show": ("Vắng mặt", "No-show"),
    "expired": ("Hết hạn cuối ngày", "Expired at day close"),
    "transferred": ("Đã chuyển", "Transferred"),
    "wait_p50": ("Chờ trung vị (phút)", "Wait p50 (min)"),
    "wait_p90": ("Chờ p90 (phút)", "Wait p90 (min)"),
    "service_p50": ("Phục vụ trung vị (phút)", "Service p50 (min)"),
    "service_p90": ("Phục vụ p90 (phút)", "Service p90 (min)"),
    "rated": ("Số đánh giá", "Ratings"),
    "satisfaction": ("Tỷ lệ hài lòng", "Satisfaction rate"),
    "rated_share": ("Tỷ lệ được đánh giá", "Share rated"),
    "anomalies": ("Bấm bất thường", "Anomalous presses"),
    "reason.no_window": ("BT: không có lượt", "Anomaly: no window"),
    "reason.after_window": ("BT: quá hạn", "Anomaly: after window"),
    "reason.extra_press": ("BT: bấm thêm", "Anomaly: extra press"),
    "reason.too_fast": ("BT: quá nhanh", "Anomaly: too fast"),
    "reason.bad_level": ("BT: nút lạ", "Anomaly: unknown button"),
    "phone": ("Đánh giá qua điện thoại", "Ratings by phone"),
    "complaint": ("Chưa hài lòng: {name}", "Not satisfied: {name}"),
    "priority_share": ("Tỷ lệ ưu tiên", "Priority share"),
    "on_time_share": ("Tỷ lệ đúng hạn", "On-time share"),
    "est_mae": ("Sai số ước tính chờ (phút)", "Wait estimate error (min)"),
    "est_within_5": ("Ước tính chờ lệch ≤ 5 phút", "Wait estimate within 5 min"),
    # rows, sheets, titles
    "total": ("Tổng cộng", "Total"),
    "none.official": ("Không xác định", "Unattributed"),
    "none.counter": ("Chưa gọi", "Not called"),
    "none.field": ("Không xác định", "Unknown"),
    "none.day": ("Không xác định", "Unknown"),
    "none.hour": ("Không xác định", "Unknown"),
    "sheet.official": ("Theo cán bộ", "By official"),
    "sheet.counter": ("Theo quầy", "By counter"),
    "sheet.field": ("Theo lĩnh vực", "By field"),
    "sheet.day": ("Theo ngày", "By day"),
    "sheet.hour": ("Theo giờ", "By hour"),
    "title": ("Báo cáo {centre}, từ {date_from} đến {date_to}",
              "Report for {centre}, {date_from} to {date_to}"),
    "chart.satisfaction": ("Mức độ hài lòng theo {what}", "Satisfaction by {what}"),
    "what.official": ("cán bộ", "official"),
    "what.counter": ("quầy", "counter"),
    "what.field": ("lĩnh vực", "field"),
    "chart.share": ("Tỷ lệ trong số đánh giá", "Share of ratings"),
    "chart.wait_hour": ("Thời gian chờ theo giờ lấy số", "Waiting by hour of issue"),
    "chart.minutes": ("Phút", "Minutes"),
    "chart.tickets": ("Số phiếu", "Tickets"),
    "chart.daily": ("Diễn biến theo ngày", "Daily trend"),
    "chart.rate": ("Tỷ lệ", "Rate"),
    "chart.no_ratings": ("Chưa có đánh giá", "No ratings"),
    "chart.no_data": ("Không có dữ liệu trong kỳ", "No data in this period"),
}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (expected one of {', '.join(LANGS)})")
    return lang


def text(key: str, lang: str = "vi", **values: object) -> str:
    vi, en = _TEXT[key]
    s = (vi if check_lang(lang) == "vi" else en).format(**values)
    return unicodedata.normalize("NFC", s)


def date_text(d, lang: str = "vi") -> str:
    # Vietnamese writes 27/11/2026; English readers get ISO dates.
    return f"{d.day:02d}/{d.month:02d}/{d.year}" if lang == "vi" else d.isoformat()


def hour_text(hour: int) -> str:
    return f"{hour:02d}:00–{(hour + 1) % 24:02d}:00"
