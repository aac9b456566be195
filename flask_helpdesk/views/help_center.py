"""The help center under the portal (``<prefix>/help``): categories, articles, search, the
new-ticket form's suggestions. Readable without logging in when ``HELPDESK_HELP_CENTER_PUBLIC``
is on; customers and visitors only ever get published public articles (the services filter)."""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)

from ..forms import get_form_class
from ..i18n import gettext as _
from ..inputs import clean_search
from ..models import Article
from ..sanitize import content_id_key
from ..services import deflection, knowledge
from ..services.identity import Actor
from ..services.kb_search import search_articles
from ..state import current_helpdesk
from .actors import current_host_user, customer_actor
from .common import KB_OPENED_KEY, current_language, render, send_attachment
from .portal import bp

# Session key: the articles this browser has answered "was this helpful?" for.
VOTED_KEY = "helpdesk_kb_voted"
SEARCH_RESULTS = 20


def reader() -> Actor | None:
    """The logged-in customer, or None for a visitor (if the host lets visitors read)."""
    if current_host_user() is not None:
        return customer_actor()
    if not current_helpdesk.config["HELPDESK_HELP_CENTER_PUBLIC"]:
        abort(current_app.login_manager.unauthorized())  # the host's login page
    return None


def article_url(article: Article, **values: Any) -> str:
    return url_for("helpdesk.article", language=article.language, slug=article.slug, **values)


def article_images(article: Article) -> dict[str, str]:
    """The article's files by name, as the sanitizer maps ``cid:`` images to URLs."""
    return {
        content_id_key(f.filename): url_for(
            "helpdesk.article_file",
            language=article.language,
            slug=article.slug,
            file_id=f.id,
            filename=f.filename,
        )
        for f in article.files
    }


@bp.get("/help/")
def help_center():
    actor = reader()
    lang = current_language()
    counts = knowledge.article_counts(actor, lang)
    categories = [c for c in knowledge.categories() if counts.get(c.id)]
    return render(
        "helpdesk/help/index.html",
        categories=categories,
        counts=counts,
        language=lang,
        uncategorized=knowledge.published_articles(actor, lang) if not categories else [],
        query="",
    )


@bp.get("/help/search")
def help_search():
    actor = reader()
    query = clean_search(request.args.get("q", ""))
    found = search_articles(query, current_language(), limit=SEARCH_RESULTS) if query else []
    del actor  # the search itself only ever returns published public articles
    return render("helpdesk/help/search.html", query=query, found=found)


@bp.get("/help/categories/<slug>")
def help_category(slug: str):
    actor = reader()
    category = knowledge.find_category(slug)
    lang = current_language()
    # A category with nothing in the reader's language yet is an empty page, not a 404: the
    # help center's own links and other languages' readers lead here.
    articles = knowledge.published_articles(actor, lang, category_id=category.id)
    return render(
        "helpdesk/help/category.html",
        category=category,
        articles=articles,
        language=lang,
    )


@bp.get("/help/articles/<language>/<slug>")
def article(language: str, slug: str):
    actor = reader()
    found = knowledge.article_by_slug(actor, language, slug)
    if request.args.get("from") == "suggestion":
        opened = deflection.suggestion_opened(actor, found)
        if opened is not None:
            session[KB_OPENED_KEY] = [*session.get(KB_OPENED_KEY, []), opened][
                -deflection.REMEMBERED :
            ]
    return render(
        "helpdesk/help/article.html",
        article=found,
        translations=knowledge.translations(actor, found),
        images=article_images(found),
        vote_form=get_form_class("article_vote")(formdata=None),
        voted=found.id in session.get(VOTED_KEY, []),
        rtl=found.language in current_helpdesk.config["HELPDESK_RTL_LANGUAGES"],
    )


@bp.post("/help/articles/<language>/<slug>/vote")
def vote(language: str, slug: str):
    actor = reader()
    found = knowledge.article_by_slug(actor, language, slug)
    form = get_form_class("article_vote")()
    if not form.validate_on_submit() or form.helpful.data not in ("yes", "no"):
        abort(400)
    voted = session.get(VOTED_KEY, [])
    if found.id not in voted:
        knowledge.vote(actor, found, form.helpful.data == "yes")
        session[VOTED_KEY] = [*voted, found.id][-100:]
    flash(_("Thank you for your feedback."), "success")
    return redirect(article_url(found, _anchor="feedback"))


@bp.get("/help/articles/<language>/<slug>/files/<helpdesk_id:file_id>/<path:filename>")
def article_file(language: str, slug: str, file_id: int, filename: str):
    actor = reader()
    found = knowledge.article_by_slug(actor, language, slug)
    return send_attachment(knowledge.find_file(actor, found, file_id))


@bp.get("/help/suggest")
def suggest():
    """Articles for what a customer is typing as the subject of a request (JSON)."""
    reader()
    limit = current_helpdesk.config["HELPDESK_ARTICLE_SUGGESTIONS"]
    query = clean_search(request.args.get("q", ""))
    found = search_articles(query, current_language(), limit=limit) if limit and query else []
    return jsonify(
        [{"title": a.title, "url": article_url(a, **{"from": "suggestion"})} for a in found]
    )


__all__ = ["article_url", "bp"]
