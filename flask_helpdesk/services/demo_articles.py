"""The demo's help center: a few articles in English, Vietnamese and Persian, some of them
translations of each other, written through the services like real ones."""

from __future__ import annotations

from ..models import ArticleStatus, ArticleVisibility
from . import knowledge
from .identity import SYSTEM, Actor

CATEGORIES = [
    # slug, names, descriptions
    (
        "account",
        {"en": "Your account", "vi": "Tài khoản của bạn", "fa": "حساب شما"},
        {
            "en": "Signing in, passwords and your team.",
            "vi": "Đăng nhập, mật khẩu và nhóm của bạn.",
            "fa": "ورود، گذرواژه و هم‌تیمی‌ها.",
        },
    ),
    (
        "billing",
        {"en": "Payments and refunds", "vi": "Thanh toán và hoàn tiền", "fa": "پرداخت و بازپرداخت"},
        {
            "en": "Invoices, payouts and our refund policy.",
            "vi": "Hóa đơn, chi trả và chính sách hoàn tiền.",
            "fa": "صورت‌حساب‌ها، واریزها و سیاست بازپرداخت.",
        },
    ),
]

# category slug, {language: (title, Markdown)}; the languages of one entry are translations.
ARTICLES = [
    (
        "account",
        {
            "en": (
                "How to reset your password",
                "1. Open the sign-in page and choose **Forgot password**.\n"
                "2. Enter the email address of your account.\n"
                "3. Follow the link we mail you; it is valid for one hour.\n\n"
                "No mail after ten minutes? Look in your spam folder, then write to us.",
            ),
            "vi": (
                "Cách đặt lại mật khẩu",
                "1. Mở trang đăng nhập và chọn **Quên mật khẩu**.\n"
                "2. Nhập địa chỉ email của tài khoản.\n"
                "3. Làm theo liên kết chúng tôi gửi qua email; liên kết có hiệu lực trong một giờ.",
            ),
            "fa": (
                "چگونه گذرواژه را بازنشانی کنیم",
                "۱. صفحهٔ ورود را باز کنید و **فراموشی گذرواژه** را بزنید.\n"
                "۲. نشانی ایمیل حساب خود را وارد کنید.\n"
                "۳. پیوندی را که برایتان می‌فرستیم دنبال کنید؛ این پیوند یک ساعت اعتبار دارد.",
            ),
        },
    ),
    (
        "account",
        {
            "en": (
                "Add a second user to your account",
                "Go to **Settings → Team** and invite your colleague by email. They choose"
                " their own password; you decide what they may see.",
            ),
            "vi": (
                "Thêm người dùng thứ hai vào tài khoản",
                "Vào **Cài đặt → Nhóm** và mời đồng nghiệp qua email.",
            ),
        },
    ),
    (
        "billing",
        {
            "en": (
                "Refund policy",
                "We return the money for any order within **30 days**, no questions asked."
                " The refund reaches your card in 5 to 10 working days.\n\n"
                "| Paid with | Refunded to |\n|---|---|\n| Card | the same card |\n"
                "| Bank transfer | the account it came from |",
            ),
            "fa": (
                "سیاست بازپرداخت",
                "پول هر سفارش را تا **۳۰ روز** بدون پرسش برمی‌گردانیم. مبلغ ظرف ۵ تا ۱۰ روز"
                " کاری به کارت شما می‌رسد.",
            ),
        },
    ),
    (
        "billing",
        {
            "en": (
                "When are publishers paid?",
                "Payouts are sent on the 15th of each month for the revenue of the month"
                " before, once it reaches 50 USD.",
            ),
        },
    ),
]


def seed_articles(author: Actor) -> int:
    """Write the demo's categories and articles; how many articles."""
    category_ids = {
        slug: knowledge.create_category(SYSTEM, slug, names, descriptions, position).id
        for position, (slug, names, descriptions) in enumerate(CATEGORIES)
    }
    written = 0
    for category, versions in ARTICLES:
        original = None
        for language, (title, body) in versions.items():
            article = knowledge.create_article(
                author,
                knowledge.ArticleData(
                    title=title,
                    body_markdown=body,
                    language=language,
                    category_id=category_ids[category],
                    status=ArticleStatus.PUBLISHED,
                    translation_of=original.id if original is not None else None,
                ),
            )
            original = original or article
            written += 1
    # One for the agents only: how the desk handles refunds beyond the policy.
    knowledge.create_article(
        author,
        knowledge.ArticleData(
            title="Refunds after 30 days (agents)",
            body_markdown="Leads may approve a refund after 30 days for a first order.",
            language="en",
            category_id=category_ids["billing"],
            status=ArticleStatus.PUBLISHED,
            visibility=ArticleVisibility.INTERNAL,
        ),
    )
    return written + 1
