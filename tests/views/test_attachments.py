"""Attachments as a customer meets them: the same file sent twice is stored once, each copy keeps
its own name, and the configured number of files per message is enforced."""

from __future__ import annotations

import re

from sqlalchemy import select

from flask_helpdesk.models import Attachment
from flask_helpdesk.services.base import session
from tests.conftest import client_for
from tests.views.conftest import code_from, upload
from tests.views.test_portal_security import post_new, snapshot, storage_files


def test_same_content_is_stored_once_under_its_hash(app, departments, customer):
    client = client_for(app, customer)
    content = b"%PDF-1.4 the same invoice"
    response = post_new(
        client,
        departments,
        attachments=[upload("invoice.pdf", content), upload("copy of invoice.pdf", content)],
    )
    assert response.status_code == 302
    code = code_from(response.headers["Location"])
    rows = list(session().scalars(select(Attachment).order_by(Attachment.id)))
    assert [row.filename for row in rows] == ["invoice.pdf", "copy of invoice.pdf"]
    assert rows[0].sha256 == rows[1].sha256
    (stored,) = storage_files(app)
    assert stored.endswith(rows[0].sha256)  # named by content, not by the customer's name

    page = client.get(f"/support/tickets/{code}").get_data(as_text=True)
    links = re.findall(r'href="(/support/tickets/[^"]+/files/[^"]+)"', page)
    assert len(links) == 2
    for link, row in zip(links, rows, strict=True):
        download = client.get(link)
        assert download.data == content
        assert row.filename in download.headers["Content-Disposition"]


def test_at_most_the_configured_number_of_files(app, departments, customer, monkeypatch):
    monkeypatch.setitem(app.extensions["helpdesk"].config, "HELPDESK_ATTACHMENT_MAX_COUNT", 2)
    client = client_for(app, customer)
    client.get("/support/")  # the contact mirror exists before we count
    before = snapshot()

    def files(n: int) -> list:
        return [upload(f"screen{i}.png", b"\x89PNG %d" % i) for i in range(n)]

    response = post_new(client, departments, attachments=files(3))
    assert response.status_code == 422
    assert "At most 2 files." in response.get_data(as_text=True)
    assert snapshot() == before and storage_files(app) == []

    response = post_new(client, departments, attachments=files(2))
    assert response.status_code == 302
    assert len(storage_files(app)) == 2
