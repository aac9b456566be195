"""Fill in the vi and fa translations of the API's strings (re-run after a catalogue update)."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent / "flask_helpdesk" / "translations"

T = {
    "Use Authorization: Bearer <token>.": (
        "Hãy dùng Authorization: Bearer <token>.",
        "از Authorization: Bearer <token> استفاده کنید.",
    ),
    "The token is unknown, expired or revoked.": (
        "Mã truy cập không tồn tại, đã hết hạn hoặc đã bị thu hồi.",
        "توکن ناشناخته، منقضی یا باطل شده است.",
    ),
    "Log in, or send a bearer token.": (
        "Hãy đăng nhập hoặc gửi mã truy cập (bearer token).",
        "وارد شوید یا یک توکن bearer بفرستید.",
    ),
    "Session calls need the CSRF token in the X-CSRFToken header.": (
        "Lệnh gọi bằng phiên đăng nhập cần mã CSRF trong tiêu đề X-CSRFToken.",
        "فراخوانی با نشست ورود به توکن CSRF در سرآیند X-CSRFToken نیاز دارد.",
    ),
    "This token lacks the scope “%(scope)s”.": (
        "Mã truy cập này không có phạm vi “%(scope)s”.",
        "این توکن دامنهٔ «%(scope)s» را ندارد.",
    ),
    "Too many requests; try again later.": (
        "Quá nhiều yêu cầu; vui lòng thử lại sau.",
        "درخواست‌ها بیش از حد است؛ بعداً دوباره تلاش کنید.",
    ),
    "Text may not contain NUL characters.": (
        "Văn bản không được chứa ký tự NUL.",
        "متن نباید نویسهٔ NUL داشته باشد.",
    ),
    "Text is not valid Unicode.": (
        "Văn bản không phải Unicode hợp lệ.",
        "متن یونیکد معتبر نیست.",
    ),
    "Not accepted.": ("Không được chấp nhận.", "پذیرفته نیست."),
    "Send a JSON body (Content-Type: application/json).": (
        "Hãy gửi nội dung JSON (Content-Type: application/json).",
        "بدنهٔ JSON بفرستید (Content-Type: application/json).",
    ),
    "The body is not valid JSON.": (
        "Nội dung không phải JSON hợp lệ.",
        "بدنه JSON معتبر نیست.",
    ),
    "The request is not valid.": ("Yêu cầu không hợp lệ.", "درخواست معتبر نیست."),
    "Not found.": ("Không tìm thấy.", "پیدا نشد."),
    "Send If-Match with the ETag of the version you changed.": (
        "Hãy gửi If-Match kèm ETag của phiên bản bạn đã sửa.",
        "If-Match را با ETag نسخه‌ای که تغییر دادید بفرستید.",
    ),
    "It was changed by someone else; read it again.": (
        "Người khác đã thay đổi nó; hãy đọc lại.",
        "کس دیگری آن را تغییر داده است؛ دوباره بخوانید.",
    ),
    "No such API endpoint.": ("Không có điểm cuối API này.", "چنین نقطهٔ پایانی API وجود ندارد."),
    "Parameters and responses": ("Tham số và phản hồi", "پارامترها و پاسخ‌ها"),
    "Schemas": ("Lược đồ", "طرح‌واره‌ها"),
    "Not a cursor of this sort order.": (
        "Không phải con trỏ của thứ tự sắp xếp này.",
        "نشانگر این ترتیب مرتب‌سازی نیست.",
    ),
    "Please give the token a name.": (
        "Hãy đặt tên cho mã truy cập.",
        "لطفاً برای توکن نامی بگذارید.",
    ),
    "Unknown scope.": ("Phạm vi không xác định.", "دامنهٔ ناشناخته."),
    "Unknown token kind.": ("Loại mã truy cập không xác định.", "نوع توکن ناشناخته است."),
    "Not a valid lifetime.": ("Thời hạn không hợp lệ.", "مدت اعتبار معتبر نیست."),
    "Please choose the agent.": ("Hãy chọn nhân viên hỗ trợ.", "لطفاً کارشناس را انتخاب کنید."),
    "Only admins can create this token.": (
        "Chỉ quản trị viên mới tạo được mã truy cập này.",
        "فقط مدیران می‌توانند این توکن را بسازند.",
    ),
    "No such token.": ("Không có mã truy cập này.", "چنین توکنی وجود ندارد."),
    "This user is not an active agent.": (
        "Người dùng này không phải nhân viên hỗ trợ đang hoạt động.",
        "این کاربر کارشناس فعال نیست.",
    ),
    "Not an agent.": ("Không phải nhân viên hỗ trợ.", "کارشناس نیست."),
    "Only admins can manage webhooks.": (
        "Chỉ quản trị viên mới quản lý được webhook.",
        "فقط مدیران می‌توانند وب‌هوک‌ها را مدیریت کنند.",
    ),
    "Not a valid URL.": ("URL không hợp lệ.", "نشانی اینترنتی معتبر نیست."),
    "Unknown event.": ("Sự kiện không xác định.", "رویداد ناشناخته."),
    "No such webhook.": ("Không có webhook này.", "چنین وب‌هوکی وجود ندارد."),
    "No such delivery.": ("Không có lần gửi này.", "چنین ارسالی وجود ندارد."),
}


def main() -> int:
    for index, lang in enumerate(("vi", "fa")):
        path = ROOT / lang / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=lang)
        for message in catalog:
            if message.id in T:
                message.string = T[message.id][index]
                message.flags.discard("fuzzy")
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
