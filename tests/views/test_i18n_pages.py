"""What a customer sees in their language: Vietnamese, Persian right-to-left, the ``?lang=``
switch, the browser's Accept-Language, and a host that runs its own Flask-Babel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask import Flask, render_template_string
from flask_babel import Babel
from flask_babel import gettext as host_gettext
from flask_login import FlaskLoginClient, LoginManager, UserMixin
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flask_helpdesk import Helpdesk
from flask_helpdesk.services import tickets
from flask_helpdesk.services.identity import contact_as_actor, sync_contact
from tests.conftest import client_for, make_member

WRAPPER = re.compile(r'<div class="helpdesk" dir="(\w+)" lang="(\w+)">')


def open_ticket_for(member, department, subject="Invoice missing"):
    actor = contact_as_actor(sync_contact(member))
    return tickets.open_ticket(
        actor, tickets.NewTicket(department_id=department.id, subject=subject, body="Where is it?")
    )


def wrapper(page: str) -> tuple[str, str]:
    match = WRAPPER.search(page)
    assert match, "helpdesk pages are wrapped in a div carrying dir and lang"
    return match.group(1), match.group(2)


def test_vietnamese_customer_sees_the_portal_in_vietnamese(app, departments):
    member = make_member("Mai Pham", language="vi")
    ticket = open_ticket_for(member, departments["account"])
    client = client_for(app, member)

    listing = client.get("/support/").get_data(as_text=True)
    assert wrapper(listing) == ("ltr", "vi")
    assert "<h1>Yêu cầu hỗ trợ</h1>" in listing
    assert "+ Yêu cầu hỗ trợ" in listing
    assert '<span class="hd-status hd-status-open">Đang mở</span>' in listing
    assert "Tài khoản" in listing  # the department name, through our catalogue
    assert "Support requests" not in listing

    page = client.get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    assert "Đóng ticket" in page
    assert "Gửi trả lời" in page


def test_vietnamese_form_labels_and_errors(app, departments):
    from tests.conftest import post_form

    member = make_member("Mai Pham", language="vi")
    client = client_for(app, member)
    response = post_form(client, "/support/new", data={"department_id": departments["other"].id})
    page = response.get_data(as_text=True)
    assert "Phòng ban" in page and "Tiêu đề" in page and "Tệp đính kèm" in page
    assert "Vui lòng nhập tiêu đề." in page or "Vui lòng điền trường này." in page


def test_persian_customer_gets_right_to_left_persian(app, departments):
    member = make_member("Reza Karimi", language="fa")
    # An English subject ending in "?" must not show its "?" at the wrong end of a Persian page.
    ticket = open_ticket_for(member, departments["account"], subject="Where is my invoice?")
    client = client_for(app, member)

    listing = client.get("/support/").get_data(as_text=True)
    assert wrapper(listing) == ("rtl", "fa")
    assert "<bdi>Where is my invoice?</bdi>" in listing
    assert "تیکت‌های پشتیبانی" in listing
    assert '<span class="hd-status hd-status-open">در حال بررسی</span>' in listing
    assert "حساب کاربری" in listing

    page = client.get(f"/support/tickets/{ticket.code}").get_data(as_text=True)
    assert wrapper(page) == ("rtl", "fa")
    assert "<bdi>Where is my invoice?</bdi>" in page
    assert '<div class="hd-message-body" dir="auto">' in page  # each message its own direction
    assert "بستن تیکت" in page
    new = client.get("/support/new").get_data(as_text=True)
    assert "موضوع" in new and "اولویت" in new and "فایل ضمیمه" in new and "واحد" in new


def test_lang_switch_is_remembered(app, departments):
    member = make_member("Lan Nguyen")  # no preferred language
    client = client_for(app, member)

    assert wrapper(client.get("/support/").get_data(as_text=True)) == ("ltr", "en")
    switched = client.get("/support/?lang=fa").get_data(as_text=True)
    assert wrapper(switched) == ("rtl", "fa")
    later = client.get("/support/new").get_data(as_text=True)
    assert wrapper(later) == ("rtl", "fa"), "the choice sticks for the session"
    assert "ارسال تیکت پشتیبانی" in later
    back = client.get("/support/?lang=vi").get_data(as_text=True)
    assert wrapper(back) == ("ltr", "vi")
    # A language the helpdesk does not offer is ignored, the remembered one stays.
    assert wrapper(client.get("/support/?lang=xx").get_data(as_text=True)) == ("ltr", "vi")


def test_lang_switch_wins_over_the_users_preference(app, departments):
    member = make_member("Mai Pham", language="vi")
    client = client_for(app, member)
    page = client.get("/support/?lang=en").get_data(as_text=True)
    assert wrapper(page) == ("ltr", "en")
    assert "<h1>Support requests</h1>" in page


def test_accept_language_is_honoured(app, departments):
    member = make_member("Lan Nguyen")
    client = client_for(app, member)
    page = client.get("/support/", headers={"Accept-Language": "fa-IR,fa;q=0.9,en;q=0.5"})
    assert wrapper(page.get_data(as_text=True)) == ("rtl", "fa")
    page = client.get("/support/", headers={"Accept-Language": "de-DE,vi;q=0.8"})
    assert "Yêu cầu hỗ trợ" in page.get_data(as_text=True)
    page = client.get("/support/", headers={"Accept-Language": "de-DE"})
    assert wrapper(page.get_data(as_text=True)) == ("ltr", "en")


def test_avatar_menu_entry_is_translated(app, departments):
    member = make_member("Mai Pham", language="vi")
    client = client_for(app, member)
    home = client.get("/").get_data(as_text=True)
    assert "Yêu cầu hỗ trợ" in home


# -- a host that has its own Flask-Babel --------------------------------------------------------


class HostBase(DeclarativeBase):
    pass


host_db = SQLAlchemy(model_class=HostBase)


class HostAccount(UserMixin, host_db.Model):
    __tablename__ = "host_accounts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(120))


HOST_LAYOUT = """<!doctype html><html><body>
<nav>{{ _("Home") }}</nav>{% block helpdesk_content %}{% endblock %}</body></html>"""


def _write_host_catalogue(root: Path) -> None:
    """The host's own Vietnamese catalogue, with a msgid the helpdesk also uses."""
    catalog = Catalog(locale="vi")
    catalog.add("Home", "Trang chủ của site")
    catalog.add("Support requests", "Hỗ trợ (bản dịch của site)")
    target = root / "vi" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)


@pytest.fixture
def host_app(tmp_path):
    translations = tmp_path / "host-translations"
    _write_host_catalogue(translations)
    templates = tmp_path / "host-templates"
    templates.mkdir()
    (templates / "host_layout.html").write_text(HOST_LAYOUT)

    app = Flask("host", template_folder=str(templates))
    app.config.update(
        SECRET_KEY="test",
        TESTING=True,
        SQLALCHEMY_DATABASE_URI="sqlite:///" + str(tmp_path / "host.sqlite"),
        BABEL_TRANSLATION_DIRECTORIES=str(translations),
        HELPDESK_BASE_TEMPLATE="host_layout.html",
        HELPDESK_STORAGE_PATH=str(tmp_path / "files"),
    )
    host_db.init_app(app)
    login = LoginManager(app)
    login.user_loader(lambda user_id: host_db.session.get(HostAccount, user_id))
    CSRFProtect(app)
    # The host's own locale rule: a header its front proxy sets. Nothing else decides.
    Babel(app, locale_selector=lambda: _host_locale())
    Helpdesk().init_app(app, db=host_db)

    @app.get("/host-page")
    def host_page():
        return render_template_string('{{ _("Home") }}|' + host_gettext("Support requests"))

    app.test_client_class = FlaskLoginClient
    with app.app_context():
        host_db.create_all()
        app.extensions["helpdesk"].create_all()
        host_db.session.add(HostAccount(id="acc-1", email="an@example.com", name="An"))
        host_db.session.commit()
    # No app context held open here: every test request gets its own, as in production.
    yield app
    with app.app_context():
        host_db.engine.dispose()


def _host_locale() -> str:
    from flask import request

    return request.headers.get("X-Site-Lang", "en")


def test_host_babel_keeps_its_locale_selector_and_strings(host_app):
    with host_app.app_context():
        account = host_db.session.get(HostAccount, "acc-1")
    client = host_app.test_client(user=account)

    page = client.get("/support/", headers={"X-Site-Lang": "vi"}).get_data(as_text=True)
    assert "<nav>Trang chủ của site</nav>" in page, "the host's layout keeps the host's strings"
    assert "<h1>Yêu cầu hỗ trợ</h1>" in page, "our strings come from our catalogue"
    assert "bản dịch của site" not in page
    assert wrapper(page) == ("ltr", "vi")

    # ?lang= is the helpdesk's own switch; under the host's Babel the host's selector rules.
    page = client.get("/support/?lang=fa", headers={"X-Site-Lang": "vi"}).get_data(as_text=True)
    assert wrapper(page) == ("ltr", "vi")

    own = client.get("/host-page", headers={"X-Site-Lang": "vi"}).get_data(as_text=True)
    assert own == "Trang chủ của site|Hỗ trợ (bản dịch của site)"

    page = client.get("/support/", headers={"X-Site-Lang": "fa"}).get_data(as_text=True)
    assert wrapper(page) == ("rtl", "fa")
    assert "تیکت‌های پشتیبانی" in page
    assert "<nav>Home</nav>" in page  # the host has no Persian catalogue
