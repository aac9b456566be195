"""Knowledge-base articles in the desk: the list, and the editor with preview, files,
revisions and translations. Every agent writes; the services check it again."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from wtforms.fields.choices import SelectChoice

from ..forms import get_form_class
from ..i18n import gettext as _
from ..inputs import clean_search
from ..models import Article, ArticleStatus, ArticleVisibility
from ..richtext import markdown_to_html
from ..services import ValidationError, deflection, knowledge, messages, tickets
from ..services.identity import Actor
from ..services.kb_search import search_articles
from .common import apply_service_error, current_language, int_arg, render, uploads_from
from .desk import bp, desk_actor
from .help_center import article_images

LANGUAGE_NAMES = {"en": "English", "vi": "Tiếng Việt", "fa": "فارسی"}


def _form(**kwargs: Any):
    form = get_form_class("desk_article")(**kwargs)
    form.language.choices = [
        SelectChoice(code, LANGUAGE_NAMES.get(code, code)) for code in knowledge.languages()
    ]
    form.category_id.choices = [SelectChoice("", _("No category"))] + [
        SelectChoice(str(c.id), c.name_in("en")) for c in knowledge.categories()
    ]
    form.status.choices = [SelectChoice(s.value, str(s.label)) for s in ArticleStatus]
    form.visibility.choices = [SelectChoice(v.value, str(v.label)) for v in ArticleVisibility]
    return form


def _data(form: Any) -> knowledge.ArticleData:
    return knowledge.ArticleData(
        title=form.title.data or "",
        body_markdown=form.body_markdown.data or "",
        language=form.language.data or "",
        category_id=form.category_id.data or None,
        status=form.status.data or ArticleStatus.DRAFT,
        visibility=form.visibility.data or ArticleVisibility.PUBLIC,
        slug=form.slug.data or "",
        translation_of=form.translation_of.data or None,
    )


@bp.get("/articles")
def articles():
    actor = desk_actor()
    language = request.args.get("language") or None
    status = request.args.get("status") or None
    found = knowledge.desk_articles(actor, language=language, status=status)
    return render(
        "helpdesk/desk/articles.html",
        articles=found,
        deflections=deflection.counts([a.id for a in found]),
        language=language,
        status=status,
        languages=knowledge.languages(),
        statuses=list(ArticleStatus),
        language_names=LANGUAGE_NAMES,
        manage_categories=actor.is_admin,
    )


def _editor(actor: Actor, form: Any, article: Article | None, status: int = 200, **extra: Any):
    return render(
        "helpdesk/desk/article_edit.html",
        form=form,
        article=article,
        revisions=knowledge.revisions(actor, article) if article is not None else [],
        translations=knowledge.translations(actor, article) if article is not None else [],
        missing_languages=[
            code
            for code in knowledge.languages()
            if article is not None
            and code != article.language
            and code not in {t.language for t in knowledge.translations(actor, article)}
        ],
        language_names=LANGUAGE_NAMES,
        images=article_images(article) if article is not None else {},
        delete_form=get_form_class("desk_button")(formdata=None),
        **extra,
    ), status


def _preview(form: Any, article: Article | None) -> str:
    names = [f.filename for f in article.files] if article is not None else []
    return markdown_to_html(form.body_markdown.data or "", names)


@bp.route("/articles/new", methods=["GET", "POST"])
def new_article():
    actor = desk_actor()
    form = _form()
    if request.method == "GET":
        form.language.data = request.args.get("language") or knowledge.languages()[0]
        original = int_arg("translation_of")
        if original:
            source = knowledge.find_article(actor, original)
            form.translation_of.data = str(source.id)
            form.category_id.data = str(source.category_id or "")
            form.visibility.data = source.visibility.value
            form.body_markdown.data = source.body_markdown  # a start for the translator
    elif form.validate_on_submit():
        if request.form.get("action") == "preview":
            return _editor(actor, form, None, preview=_preview(form, None))
        try:
            article = knowledge.create_article(
                actor, _data(form), uploads_from(form.files.data or [])
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            flash(_("The article was saved."), "success")
            return redirect(url_for(".edit_article", article_id=article.id))
    return _editor(actor, form, None, 422 if request.method == "POST" else 200)


@bp.route("/articles/<helpdesk_id:article_id>", methods=["GET", "POST"])
def edit_article(article_id: int):
    actor = desk_actor()
    article = knowledge.find_article(actor, article_id)
    if request.method == "GET":
        form = _form(obj=article, formdata=None)
        form.category_id.data = str(article.category_id or "")
        form.status.data = article.status.value
        form.visibility.data = article.visibility.value
        return _editor(actor, form, article)
    form = _form()
    if form.validate_on_submit():
        if request.form.get("action") == "preview":
            return _editor(actor, form, article, preview=_preview(form, article))
        try:
            knowledge.update_article(
                actor, article, _data(form), uploads_from(form.files.data or [])
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            flash(_("The article was saved."), "success")
            return redirect(url_for(".edit_article", article_id=article.id))
    return _editor(actor, form, article, 422)


@bp.post("/articles/<helpdesk_id:article_id>/delete")
def delete_article(article_id: int):
    actor = desk_actor()
    article = knowledge.find_article(actor, article_id)
    if get_form_class("desk_button")().validate_on_submit():
        knowledge.delete_article(actor, article)
        flash(_("The article was deleted."), "success")
    return redirect(url_for(".articles"))


def article_picker() -> dict[str, Any]:
    """The workspace's article picker (``?kb=`` on the ticket page): public articles in any
    language matching what the agent typed, with the address to paste into the reply."""
    query = clean_search(request.args.get("kb", ""))
    found = search_articles(query, None, limit=5) if query else []
    return {
        "kb_query": query,
        "kb_found": [
            (a, url_for("helpdesk.article", language=a.language, slug=a.slug, _external=True))
            for a in found
        ],
    }


@bp.post("/tickets/<code>/article")
def article_from_reply(code: str):
    """Turn the ticket's newest agent reply into a draft article, then open the editor."""
    actor = desk_actor()
    ticket = tickets.find_ticket(actor, code)
    replies = [m for m in messages.thread(actor, ticket) if m.is_public and m.author_agent_id]
    if not get_form_class("desk_button")().validate_on_submit() or not replies:
        flash(_("There is no reply of support to turn into an article."), "error")
        return redirect(url_for(".ticket", code=ticket.code))
    article = knowledge.draft_from_message(actor, replies[-1], current_language())
    flash(_("A draft article was made from the reply; edit it and publish it."), "success")
    return redirect(url_for(".edit_article", article_id=article.id))
