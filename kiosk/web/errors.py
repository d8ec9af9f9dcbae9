"""What the console says when something is refused: the web's own error and
the Vietnamese text of the core's refusal codes."""
from __future__ import annotations

from typing import Any


class WebError(Exception):
    """A request refused with an HTTP status and a message staff can read."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# What staff read when the core refuses; the core's English message is kept in the reply.
MESSAGES_VI = {
    "empty": "Không còn ai chờ ở quầy này",
    "no_current": "Quầy đang không phục vụ phiếu nào",
    "not_open": "Quầy đang tạm nghỉ; bấm Tiếp tục trước",
    "already_open": "Quầy đang mở",
    "not_waiting": "Phiếu này không ở trong hàng chờ",
    "already_called": "Phiếu này đã được gọi",
    "unknown_ticket": "Không có phiếu này trong hôm nay",
    "bad_transfer": "Không chuyển được phiếu tới đó",
    "unknown_field": "Không có lĩnh vực này",
    "unknown_counter": "Không có quầy này",
    "day_closed": "Ngày làm việc đã kết thúc",
    "unknown_official": "Không có cán bộ này",
    "already_printed": "Phiếu đã in; đánh dấu “In lại dù đã in” để in lần nữa",
    "print_pending": "Phiếu đang được in; chờ máy in trả lời rồi hãy in lại",
    "bad_payload": "Yêu cầu không hợp lệ",
    "roster": "Không sửa được danh sách cán bộ",
    "config_invalid": "Có mục chưa hợp lệ; xem dòng đỏ bên cạnh ô",
    "config_stale": "Có người vừa lưu cấu hình khác sau khi bạn mở trang; tải lại trang rồi sửa lại",
    "config_strands": "Không lưu: thay đổi này làm kẹt người đang chờ",
    "restart_needed": "Mục này không đổi được khi đang chạy; sửa tệp cấu hình rồi khởi động lại",
    "unknown_version": "Không có phiên bản này trong lịch sử",
}
# The follow-up cases' refusals (unknown_case, bad_transition, note_required,
# bad_note) are not here: the core words them in Vietnamese itself, naming
# the case and its state, and error_text shows them as they come.


def error_text(reply: dict[str, Any]) -> str:
    """The core's refusal in Vietnamese, else its own message."""
    err = reply.get("error") or {}
    return MESSAGES_VI.get(err.get("code"), err.get("message") or "Lỗi không rõ")
