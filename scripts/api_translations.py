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
    "Scope": ("Phạm vi", "دامنه"),
    "Kind": ("Loại", "نوع"),
    "Expires after (days)": ("Hết hạn sau (ngày)", "انقضا پس از (روز)"),
    "URL": ("URL", "نشانی اینترنتی"),
    "Events": ("Sự kiện", "رویدادها"),
    "Webhooks": ("Webhook", "وب‌هوک‌ها"),
    "Off": ("Tắt", "خاموش"),
    "Deliveries": ("Các lần gửi", "ارسال‌ها"),
    "Event": ("Sự kiện", "رویداد"),
    "Answer": ("Phản hồi", "پاسخ"),
    "State": ("Trạng thái", "وضعیت"),
    "Send again": ("Gửi lại", "ارسال دوباره"),
    "Nothing sent yet.": ("Chưa gửi gì.", "هنوز چیزی ارسال نشده است."),
    "Signing secret": ("Khóa ký", "کلید امضا"),
    "Copy it now: it is shown only this once.": (
        "Hãy sao chép ngay: nó chỉ hiển thị lần này.",
        "همین حالا رونوشت بگیرید: فقط همین یک بار نشان داده می‌شود.",
    ),
    "Switch off": ("Tắt", "خاموش کردن"),
    "Switch on": ("Bật", "روشن کردن"),
    "No webhooks yet.": ("Chưa có webhook nào.", "هنوز وب‌هوکی وجود ندارد."),
    "New webhook": ("Webhook mới", "وب‌هوک تازه"),
    "Separated by spaces, or * for all: %(names)s": (
        "Cách nhau bằng dấu cách, hoặc * cho tất cả: %(names)s",
        "با فاصله جدا کنید، یا * برای همه: %(names)s",
    ),
    "API tokens": ("Mã truy cập API", "توکن‌های API"),
    "Programs use a token to call the helpdesk's API with your permissions.": (
        "Các chương trình dùng mã truy cập để gọi API của bộ phận hỗ trợ với quyền của bạn.",
        "برنامه‌ها با یک توکن و با مجوزهای شما API میز پشتیبانی را فرا می‌خوانند.",
    ),
    "API reference": ("Tài liệu API", "مرجع API"),
    "Your new token": ("Mã truy cập mới của bạn", "توکن تازهٔ شما"),
    "Token": ("Mã truy cập", "توکن"),
    "Expires": ("Hết hạn", "انقضا"),
    "Last used": ("Dùng lần cuối", "آخرین استفاده"),
    "Service": ("Dịch vụ", "سرویس"),
    "Revoke": ("Thu hồi", "باطل کردن"),
    "No tokens yet.": ("Chưa có mã truy cập nào.", "هنوز توکنی وجود ندارد."),
    "New token": ("Mã truy cập mới", "توکن تازه"),
    "Leave empty for a token that does not expire.": (
        "Để trống nếu mã truy cập không hết hạn.",
        "برای توکنی که منقضی نمی‌شود خالی بگذارید.",
    ),
    "Read": ("Đọc", "خواندن"),
    "Read and write": ("Đọc và ghi", "خواندن و نوشتن"),
    "Personal (acts as me)": ("Cá nhân (thay mặt tôi)", "شخصی (به جای من)"),
    "Service (a host system, sees every department)": (
        "Dịch vụ (một hệ thống của trang, thấy mọi phòng ban)",
        "سرویس (سامانه‌ای از سایت، همهٔ بخش‌ها را می‌بیند)",
    ),
    "The token was revoked.": ("Mã truy cập đã bị thu hồi.", "توکن باطل شد."),
    "The delivery will be sent again.": (
        "Lần gửi này sẽ được gửi lại.",
        "این ارسال دوباره فرستاده می‌شود.",
    ),
    "Webhook switched off: %(url)s": ("Webhook đã bị tắt: %(url)s", "وب‌هوک خاموش شد: %(url)s"),
    "The webhook %(url)s was switched off after %(count)d failed deliveries in a row.": (
        "Webhook %(url)s đã bị tắt sau %(count)d lần gửi thất bại liên tiếp.",
        "وب‌هوک %(url)s پس از %(count)d ارسال ناموفق پیاپی خاموش شد.",
    ),
    "New events are not queued for it until an admin switches it on again.": (
        "Sự kiện mới sẽ không được xếp hàng cho nó cho đến khi quản trị viên bật lại.",
        "تا وقتی مدیری دوباره روشنش نکند، رویدادهای تازه برایش در صف قرار نمی‌گیرند.",
    ),
    "Delivery log": ("Nhật ký gửi", "گزارش ارسال‌ها"),
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
