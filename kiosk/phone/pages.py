"""The phone page's HTML: the ticket's page (a shell the script fills from
``/state`` and ``/events``) and the plain pages of a refusal.  Vietnamese
first, English under it; no inline script or style (the page's
Content-Security-Policy is ``default-src 'self'``)."""
from __future__ import annotations

from html import escape

# What a citizen reads when the core refuses a rating (phone/reply error
# codes, THE CONTRACT); the core's own Vietnamese message is the fallback.
REFUSALS_VI = {
    "bad_token": ("Mã phiếu không hợp lệ.", "This ticket's code is not valid."),
    "unknown_ticket": ("Không tìm thấy phiếu này trong hôm nay.", "This ticket is not one of today's."),
    "not_finished": ("Phiếu chưa được phục vụ xong; bạn có thể đánh giá sau khi xong việc.",
                     "Your service is not finished yet; you can rate it afterwards."),
    "already_rated": ("Phiếu này đã được đánh giá rồi (tại quầy hoặc trên điện thoại). "
                      "Mỗi phiếu chỉ được đánh giá một lần.",
                      "This ticket has already been rated (at the counter or on a phone). "
                      "Each ticket can be rated once."),
    "window_closed": ("Đã hết thời gian đánh giá phiếu này.", "The time to rate this ticket is over."),
    "bad_level": ("Mức đánh giá này không có; vui lòng tải lại trang.",
                  "This rating does not exist; please reload the page."),
    "bad_reason": ("Lý do không hợp lệ; vui lòng tải lại trang.",
                   "A reason is not valid; please reload the page."),
    "no_reply": ("Hệ thống chưa trả lời; vui lòng thử lại sau ít giây.",
                 "The system did not answer; please try again in a few seconds."),
    "rate_limited": ("Bạn thao tác quá nhanh; vui lòng đợi một phút rồi thử lại.",
                     "Too many requests; please wait a minute and try again."),
    "bad_request": ("Yêu cầu không hợp lệ; vui lòng tải lại trang.",
                    "The request is not valid; please reload the page."),
}


def refusal(code: str, core_message: str | None = None) -> dict[str, str]:
    vi, en = REFUSALS_VI.get(code, (core_message or "Không gửi được đánh giá.", "The rating was not accepted."))
    return {"code": code, "message": vi, "message_en": en}


def _shell(title: str, body: str) -> str:
    return ("<!doctype html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta name=\"referrer\" content=\"no-referrer\">"
            f"<title>{escape(title)}</title>"
            "<link rel=\"stylesheet\" href=\"/static/phone/phone.css\"></head>\n"
            f"<body>{body}</body></html>\n")


def plain(status_vi: str, status_en: str, detail_vi: str, detail_en: str) -> str:
    """A page with one message and nothing to do (a bad address, a refusal)."""
    return _shell(status_vi, (
        "<main class=\"plain\">"
        f"<h1>{escape(status_vi)}<span class=\"en\">{escape(status_en)}</span></h1>"
        f"<p>{escape(detail_vi)}<span class=\"en\">{escape(detail_en)}</span></p></main>"))


BAD_TOKEN = plain("Mã không hợp lệ", "Invalid code",
                  "Địa chỉ này không đúng với phiếu nào. Hãy quét lại mã QR trên phiếu của bạn.",
                  "This address does not match any ticket. Scan the QR code on your ticket again.")
NOT_FOUND = plain("Không tìm thấy", "Not found",
                  "Trang này không có. Hãy quét mã QR trên phiếu của bạn.",
                  "There is no such page. Scan the QR code on your ticket.")
TOO_MANY = plain("Quá nhiều yêu cầu", "Too many requests",
                 "Vui lòng đợi một phút rồi tải lại trang.",
                 "Please wait a minute, then reload the page.")


def ticket_page(label: str) -> str:
    """The ticket's page: filled and kept live by /static/phone/phone.js."""
    label = escape(label)
    return _shell(f"Phiếu {label}", f"""
<main id="app" class="st-loading">
<p id="centre" class="centre"></p>
<section class="card" id="ticket">
  <p class="caption">Số phiếu của bạn<span class="en">Your ticket number</span></p>
  <p id="label" class="label">{label}</p>
  <p id="field" class="field"></p>
</section>
<p id="moved" class="note moved" hidden></p>
<section id="s-waiting" class="card" hidden>
  <p id="ahead" class="big"></p>
  <p id="wait" class="line"></p>
  <p class="hint">Trang tự cập nhật; giữ trang mở để được báo khi đến lượt.<span class="en">This page updates
  by itself; keep it open to be told when it is your turn.</span></p>
</section>
<button id="sound" type="button" class="btn secondary" hidden>Bật âm báo<span class="en">Turn on the sound alert</span></button>
<p id="sound-on" class="hint" hidden>Đã bật âm báo<span class="en">Sound alert is on</span></p>
<section id="s-called" class="card called" hidden>
  <p class="caption">Đến lượt bạn<span class="en">It is your turn</span></p>
  <p id="called-to" class="big"></p>
</section>
<section id="s-rate" class="card" hidden>
  <h2>Bạn có hài lòng với việc giải quyết thủ tục?<span class="en">Were you satisfied with the service?</span></h2>
  <div id="levels" class="levels"></div>
  <form id="reasons-form" hidden>
    <fieldset>
      <legend>Vì sao bạn chưa hài lòng? (có thể chọn nhiều)<span class="en">Why not? (choose any)</span></legend>
      <div id="reasons"></div>
    </fieldset>
    <label id="comment-box" for="comment" hidden>Ý kiến của bạn (tối đa 200 ký tự; không ghi họ tên,
      số điện thoại)<span class="en">Your comment (up to 200 characters; no names or phone numbers)</span>
      <textarea id="comment" maxlength="200" rows="3"></textarea></label>
    <button id="send" type="submit" class="btn">Gửi đánh giá<span class="en">Send</span></button>
  </form>
</section>
<section id="s-thanks" class="card thanks" hidden>
  <p class="big">Cảm ơn bạn!<span class="en">Thank you!</span></p>
  <p id="thanks-detail" class="line"></p>
</section>
<p id="refused" class="note refused" role="alert" hidden></p>
<section id="s-rated" class="card" hidden>
  <p class="line">Phiếu này đã được đánh giá. Cảm ơn bạn!<span class="en">This ticket has been rated.
  Thank you!</span></p>
</section>
<section id="s-no_show" class="card" hidden>
  <p class="line">Phiếu đã bị bỏ qua vì bạn không có mặt khi được gọi. Vui lòng hỏi cán bộ hướng dẫn
  hoặc lấy phiếu mới.<span class="en">Your ticket was skipped because you were not there when called.
  Please ask at the help desk or take a new ticket.</span></p>
</section>
<section id="s-closed" class="card" hidden>
  <p class="line">Ngày làm việc đã kết thúc. Phiếu chỉ dùng trong ngày.<span class="en">Today's service
  has ended. A ticket is valid on its day only.</span></p>
</section>
<section id="s-unknown" class="card" hidden>
  <p class="line">Đang tìm phiếu của bạn…<span class="en">Looking for your ticket…</span></p>
</section>
<p id="link" class="link">Đang tải…<span class="en">Loading…</span></p>
<div id="alert" class="alert" role="alertdialog" aria-labelledby="alert-to" hidden>
  <p class="alert-caption">Đến lượt bạn<span class="en">It is your turn</span></p>
  <p id="alert-label" class="alert-label">{label}</p>
  <p id="alert-to" class="alert-to"></p>
  <p id="alert-en" class="alert-en"></p>
  <button id="alert-ok" type="button" class="btn">Đã hiểu<span class="en">OK</span></button>
</div>
</main>
<script src="/static/phone/waitwords.js"></script>
<script src="/static/phone/phone.js"></script>
""")
