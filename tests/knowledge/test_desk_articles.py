"""The desk's article list and editor: write, preview, upload an image, translate, delete."""

from __future__ import annotations

import io

from flask_helpdesk.models import Article
from flask_helpdesk.services import knowledge
from flask_helpdesk.services.base import session
from tests.conftest import client_for, count_queries, post_form
from tests.knowledge.conftest import write

DESK = "/support/desk/articles"

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_an_agent_writes_previews_and_publishes_an_article(app, minh, writer, category):
    client = client_for(app, minh)
    form = {
        "title": "How to reset your password",
        "language": "en",
        "category_id": str(category.id),
        "status": "published",
        "visibility": "public",
        "body_markdown": "Choose **Forgot password**. ![Screen](screen.png) <script>x</script>",
    }
    preview = post_form(client, DESK + "/new", data={**form, "action": "preview"})
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert "<strong>Forgot password</strong>" in html and "<script>x" not in html
    assert session().query(Article).count() == 0  # a preview saves nothing

    saved = post_form(
        client,
        DESK + "/new",
        data={**form, "action": "save", "files": [(io.BytesIO(PNG), "screen.png")]},
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302
    article = session().query(Article).one()
    assert [f.filename for f in article.files] == ["screen.png"]
    page = client_for(app, None).get(f"/support/help/articles/en/{article.slug}")
    image_url = f"/support/help/articles/en/{article.slug}/files/{article.files[0].id}/screen.png"
    assert f'src="{image_url}"' in page.get_data(as_text=True)
    download = client_for(app, None).get(image_url)
    assert download.status_code == 200 and download.headers["X-Content-Type-Options"] == "nosniff"

    listing = client.get(DESK).get_data(as_text=True)
    assert "How to reset your password" in listing
    edit = client.get(f"{DESK}/{article.id}").get_data(as_text=True)
    assert "Translate into" in edit


def test_customers_cannot_open_the_editor(app, writer, customer):
    client = client_for(app, customer)
    assert client.get(DESK).status_code == 403
    assert client.get(DESK + "/new").status_code == 403


def test_the_list_makes_a_bounded_number_of_queries(app, minh, writer, category):
    for n in range(20):
        write(writer, f"Article {n}", "Text", category_id=category.id)
    client = client_for(app, minh)
    client.get(DESK)
    with count_queries(app) as statements:
        assert client.get(DESK).status_code == 200
    assert len(statements) <= 12, statements
    assert knowledge.desk_articles(writer)


def test_the_workspace_finds_articles_to_link_and_turns_a_reply_into_a_draft(
    app, minh, writer, category, customer, departments
):
    from flask_helpdesk.services import messages, tickets
    from flask_helpdesk.services.identity import contact_as_actor, sync_contact

    write(writer, "Refund policy", "Within 30 days.")
    write(writer, "Refund exceptions", "Agents only.", visibility="internal")
    lan = contact_as_actor(sync_contact(customer))
    ticket = tickets.open_ticket(
        lan,
        tickets.NewTicket(department_id=departments["account"].id, subject="Money back?", body="?"),
    )
    messages.post_message(writer, ticket, "Yes: we refund within **30 days**.")
    client = client_for(app, minh)
    page = client.get(f"/support/desk/tickets/{ticket.code}?kb=refund").get_data(as_text=True)
    assert "/support/help/articles/en/refund-policy" in page
    assert "Refund exceptions" not in page  # links are for customers: public articles only

    response = post_form(
        client,
        f"/support/desk/tickets/{ticket.code}",
        f"/support/desk/tickets/{ticket.code}/article",
    )
    assert response.status_code == 302 and "/support/desk/articles/" in response.location
    draft = session().query(Article).filter_by(title="Money back?").one()
    assert draft.status.value == "draft" and "30 days" in draft.body_markdown
