"""Every word of the official pack, Vietnamese first (the pack is handed in
in Vietnamese; English on request for a reader who needs it).

Headings follow the wording of the texts the pack answers to where they
have one (docs/reports.md, "Sources"): Circular 01/2018/TT-VPCP's three
levels, Decision 766/QĐ-TTg's satisfaction group.
"""
from __future__ import annotations

import datetime as dt
import unicodedata

LANGS = ("vi", "en")
# What the pack groups by (of figures.BREAKDOWNS): here, with the pack's
# other plain constants, so pack_main starts the read before it loads
# pack_figures (a thread loads it, openpyxl and reportlab meanwhile).
PACK_BREAKDOWNS = ("official", "counter", "field")


class PackError(Exception):
    """A pack that cannot be made; the message is one line for a person.
    (Defined here, the pack's lowest module, so every part can raise it;
    ``kiosk.reports.pack`` exports it.)"""


ROMAN = ("I", "II", "III", "IV")

_TEXT: dict[str, tuple[str, str]] = {
    "title": ("BÁO CÁO KẾT QUẢ ĐÁNH GIÁ MỨC ĐỘ HÀI LÒNG CỦA NGƯỜI DÂN, DOANH NGHIỆP "
              "ĐỐI VỚI VIỆC GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH",
              "REPORT ON CITIZENS' AND BUSINESSES' SATISFACTION WITH THE HANDLING OF "
              "ADMINISTRATIVE PROCEDURES"),
    "subtitle": ("{centre} — {period} (từ {first} đến {last})",
                 "{centre} — {period} ({first} to {last})"),
    "made": ("Lập lúc {at} từ dữ liệu của hệ thống xếp hàng và đánh giá tại Trung tâm.",
             "Made at {at} from the centre's queue and rating system."),
    "page": ("Trang {n}/{total}", "Page {n}/{total}"),
    "sources": ("Nguồn / căn cứ: Thông tư số 01/2018/TT-VPCP ngày 23/11/2018 (Chương III); Nghị định "
                "số 118/2025/NĐ-CP ngày 09/6/2025; Thông tư số 03/2025/TT-VPCP ngày 15/9/2025; "
                "Quyết định số 766/QĐ-TTg ngày 23/6/2022 (Bộ chỉ số 766); dữ liệu của hệ thống tại "
                "Trung tâm.",
                "Sources: Circular 01/2018/TT-VPCP of 23 November 2018 (Chapter III); Decree "
                "118/2025/NĐ-CP of 9 June 2025; Circular 03/2025/TT-VPCP of 15 September 2025; "
                "Decision 766/QĐ-TTg of 23 June 2022 (the 766 index); the centre's own system."),
    # sections
    "s.summary": ("I. TỔNG HỢP CHUNG CỦA TRUNG TÂM", "I. SUMMARY FOR THE CENTRE"),
    "s.field": ("II. MỨC ĐỘ HÀI LÒNG THEO LĨNH VỰC", "II. SATISFACTION BY FIELD"),
    "s.counter": ("III. MỨC ĐỘ HÀI LÒNG THEO QUẦY", "III. SATISFACTION BY COUNTER"),
    "s.official": ("IV. MỨC ĐỘ HÀI LÒNG THEO CÁN BỘ, CÔNG CHỨC",
                   "IV. SATISFACTION BY OFFICIAL"),
    "s.waits": ("V. THỜI GIAN CHỜ SO VỚI MỤC TIÊU", "V. WAITS AGAINST THE TARGET"),
    "s.longest": ("V.2. Các lượt chờ lâu nhất trong kỳ", "V.2. The longest waits of the period"),
    "s.hours": ("V.3. Khung giờ có lượt chờ vượt mục tiêu",
                "V.3. Hours of issue in which the target was missed"),
    "s.anomalies": ("VI. LƯỢT BẤM BẤT THƯỜNG THEO CÁN BỘ (KHÔNG TÍNH VÀO ĐÁNH GIÁ)",
                    "VI. ANOMALOUS PRESSES BY OFFICIAL (NOT COUNTED AS RATINGS)"),
    "s.cases": ("VII. THEO DÕI, XỬ LÝ Ý KIẾN KHÔNG HÀI LÒNG",
                "VII. FOLLOW-UP OF DISSATISFIED CITIZENS"),
    "s.estimate": ("VIII. ƯỚC TÍNH TỶ LỆ HÀI LÒNG TRONG TIẾP NHẬN, GIẢI QUYẾT THỦ TỤC HÀNH "
                   "CHÍNH (NHÓM CHỈ SỐ VỀ MỨC ĐỘ HÀI LÒNG, BỘ CHỈ SỐ 766)",
                   "VIII. ESTIMATE OF THE SATISFACTION RATE IN HANDLING ADMINISTRATIVE "
                   "PROCEDURES (SATISFACTION GROUP, DECISION 766 INDEX)"),
    # sheet names (Excel: at most 31 characters)
    "sheet.summary": ("Tổng hợp", "Summary"),
    "sheet.field": ("Theo lĩnh vực", "By field"),
    "sheet.counter": ("Theo quầy", "By counter"),
    "sheet.official": ("Theo cán bộ", "By official"),
    "sheet.waits": ("Chờ theo lĩnh vực", "Waits by field"),
    "sheet.longest": ("Chờ lâu nhất", "Longest waits"),
    "sheet.hours": ("Giờ vượt mục tiêu", "Hours missed"),
    "sheet.anomalies": ("Bấm bất thường", "Anomalies"),
    "sheet.cases": ("Phiếu theo dõi", "Follow-up cases"),
    "sheet.estimate": ("Ước tính 766", "766 estimate"),
    # columns
    "c.indicator": ("Chỉ tiêu", "Indicator"),
    "c.value": ("Số lượng", "Count"),
    "c.share": ("Tỷ lệ", "Share"),
    "c.field": ("Lĩnh vực", "Field"),
    "c.counter": ("Quầy", "Counter"),
    "c.official": ("Cán bộ, công chức", "Official"),
    "c.served": ("Đã phục vụ", "Served"),
    "c.rated": ("Số đánh giá", "Ratings"),
    "c.rated_share": ("Tỷ lệ được đánh giá", "Share rated"),
    "c.pct": ("%", "%"),
    "c.wait_target": ("Mục tiêu chờ (phút)", "Wait target (min)"),
    "c.base": ("Số phiếu", "Tickets"),
    "c.within": ("Trong mục tiêu", "Within target"),
    "c.missed": ("Vượt mục tiêu", "Over target"),
    "c.within_share": ("Tỷ lệ trong mục tiêu", "Share within target"),
    "c.service_target": ("Mục tiêu phục vụ (phút)", "Service target (min)"),
    "c.on_time_share": ("Tỷ lệ đúng hạn", "On-time share"),
    "c.rank": ("STT", "No."),
    "c.ticket": ("Số phiếu", "Ticket"),
    "c.ticket_id": ("Mã phiếu", "Ticket id"),
    "c.day": ("Ngày", "Day"),
    "c.issued": ("Lấy số lúc", "Issued at"),
    "c.wait_min": ("Chờ (phút)", "Wait (min)"),
    "c.hour": ("Giờ lấy số", "Hour of issue"),
    "c.anomalies": ("Tổng số", "Total"),
    "c.case": ("Số", "No."),
    "c.level": ("Mức đánh giá", "Level"),
    "c.reasons": ("Lý do", "Reasons"),
    "c.opened": ("Ngày mở", "Opened"),
    "c.due": ("Hạn xử lý", "Due"),
    "c.status": ("Trạng thái", "Status"),
    "c.closed": ("Ngày đóng", "Closed"),
    "c.on_time": ("Đúng hạn", "On time"),
    # summary rows
    "r.issued": ("Số phiếu cấp", "Tickets issued"),
    "r.served": ("Số lượt đã phục vụ", "Served"),
    "r.rated": ("Số lượt đánh giá (tỷ lệ được đánh giá trên số đã phục vụ)",
                "Ratings (share rated of served)"),
    "r.satisfaction": ("Tỷ lệ hài lòng (Rất hài lòng và Hài lòng)",
                       "Satisfaction (very satisfied and satisfied)"),
    "r.within": ("Gọi trong thời gian chờ mục tiêu", "Called within the wait target"),
    "r.on_time": ("Phục vụ đúng thời gian mục tiêu", "Served within the service target"),
    "r.anomalies": ("Lượt bấm bất thường (không tính)", "Anomalous presses (not counted)"),
    "r.cases": ("Phiếu theo dõi không hài lòng (đóng đúng hạn)",
                "Follow-up cases (closed on time)"),
    "r.estimate": ("Tỷ lệ hài lòng theo cách tính Bộ chỉ số 766 (Trung tâm tự ước tính)",
                   "Decision 766 satisfaction estimate (the centre's own)"),
    "total": ("Toàn Trung tâm", "Whole centre"),
    "none": ("Không xác định", "Unattributed"),
    "yes": ("Có", "Yes"),
    "no": ("Không", "No"),
    "status.open": ("Mới mở", "Open"),
    "status.looked_into": ("Đang xem xét", "Looked into"),
    "status.closed": ("Đã đóng", "Closed"),
    "status.overdue": ("Quá hạn", "Overdue"),
    "levels.note": ("Ba mức theo Thông tư 01/2018/TT-VPCP; tỷ lệ tính trên số lượt đánh giá.",
                    "Three levels per Circular 01/2018/TT-VPCP; shares of the ratings."),
    "waits.note": ("Trong mục tiêu: được gọi lần đầu trong thời gian chờ mục tiêu của lĩnh vực "
                   "đã chọn; phiếu chưa được gọi đến hết ngày mà đã chờ quá mục tiêu tính là "
                   "vượt.",
                   "Within target: first called within the chosen field's wait target; a "
                   "ticket never called that had waited past the target when the day closed "
                   "counts as over."),
    "hours.none": ("Không có khung giờ nào vượt mục tiêu.", "No hour missed the target."),
    "cases.summary": ("Số phiếu: {cases}; đã đóng: {closed} (đúng hạn {on_time}, trễ hạn "
                      "{late}); chưa đóng: {open} (quá hạn {overdue}). Tỷ lệ đóng đúng hạn: "
                      "{share} (trên {base} phiếu đã đóng hoặc đã quá hạn).",
                      "Cases: {cases}; closed: {closed} ({on_time} on time, {late} late); not "
                      "closed: {open} ({overdue} overdue). Closed on time: {share} (of the "
                      "{base} closed or past due)."),
    "cases.cut": ("Bản in liệt kê {shown} trong {cases} phiếu (các phiếu chưa đóng đúng hạn "
                  "trước); bảng tính kèm theo có đủ danh sách.",
                  "This print lists {shown} of {cases} cases (those not closed on time "
                  "first); the workbook lists them all."),
    "cases.none": ("Không có phiếu theo dõi trong kỳ.", "No follow-up cases in the period."),
    "e.served": ("A. Số lượt đã phục vụ", "A. Served"),
    "e.flagged": ("B. Số lượt bị trừ (mỗi lượt tính một lần)",
                  "B. Flagged (each counted once)"),
    "e.bad": ("– trong đó: đánh giá Không hài lòng hoặc có phiếu theo dõi",
              "– of which: rated not satisfied or with a case"),
    "e.late": ("– trong đó: phục vụ quá thời gian mục tiêu", "– of which: served over the target"),
    "e.share": ("Tỷ lệ = (A − B) ÷ A", "Share = (A − B) ÷ A"),
    "e.points": ("Phần điểm tối đa đạt được (tỷ lệ ÷ 90%, tối đa 100%)",
                 "Fraction of the full points (share ÷ 90%, at most 100%)"),
    "e.formula": ("Công thức (Bộ chỉ số 766): Tỷ lệ hài lòng = 100% − (tỷ lệ hồ sơ giải quyết "
                  "quá hạn + tỷ lệ hồ sơ có phản ánh, kiến nghị hoặc đánh giá không hài lòng). "
                  "Trung tâm ước tính trên lượt phục vụ: Tỷ lệ = (A − B) ÷ A, trong đó B là số "
                  "lượt đã phục vụ có đánh giá Không hài lòng, có phiếu theo dõi, hoặc phục vụ "
                  "quá thời gian mục tiêu (mỗi lượt tính một lần). Đạt từ 90% trở lên: điểm tối "
                  "đa của chỉ số; dưới 90%: điểm = tỷ lệ × điểm tối đa ÷ 90%.",
                  "Formula (Decision 766 index): satisfaction = 100% − (share of dossiers "
                  "handled late + share with a complaint or a dissatisfied rating). The centre "
                  "estimates it over its visits: share = (A − B) ÷ A, where B is the served "
                  "tickets rated not satisfied, with a case, or served over the target (each "
                  "once). 90% or more: the indicator's full points; below: points = share × "
                  "full points ÷ 90%."),
    "e.label": ("Đây là số liệu Trung tâm tự ước tính từ các lượt phục vụ tại Trung tâm; số "
                "liệu chính thức do Hệ thống thông tin giải quyết thủ tục hành chính của tỉnh "
                "tính theo hồ sơ.",
                "This is the centre's own estimate from its visits; the official figure is "
                "computed by the province's dossier system."),
}


def text(key: str, lang: str = "vi", **values: object) -> str:
    vi, en = _TEXT[key]
    return unicodedata.normalize("NFC", (vi if lang == "vi" else en).format(**values))


def period_label(kind: str, first: dt.date, lang: str = "vi") -> str:
    """"Tháng 11/2026", "Quý IV/2026", "Năm 2026"."""
    if kind == "monthly":
        return f"Tháng {first.month}/{first.year}" if lang == "vi" else f"{first:%B %Y}"
    if kind == "quarterly":
        q = (first.month - 1) // 3
        return f"Quý {ROMAN[q]}/{first.year}" if lang == "vi" else f"Q{q + 1} {first.year}"
    return f"Năm {first.year}" if lang == "vi" else str(first.year)


def number(value: float | int | None, kind: str, lang: str) -> str:
    """A figure as printed: counts as they are, minutes with one decimal, rates
    as percentages; Vietnamese decimal commas; "—" for no value."""
    if value is None:
        return "—"
    if kind == "int":
        return f"{value:,}".replace(",", "." if lang == "vi" else ",")
    s = f"{value * 100:.1f}%" if kind == "pct" else f"{value:.1f}"
    return s.replace(".", ",") if lang == "vi" else s


def when(at: float | None, tz: dt.tzinfo) -> str:
    return "" if at is None else dt.datetime.fromtimestamp(at, tz).strftime("%d/%m/%Y %H:%M")
