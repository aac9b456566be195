"""The help center's categories in the desk (admins): create, rename and describe per
language, reorder, delete when empty. The services check who may (``manage``)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for

from ..forms import get_form_class
from ..i18n import gettext as _
from ..services import ValidationError, kb_categories, knowledge
from ..services.permissions import ensure
from .common import apply_service_error, render
from .desk import bp, desk_actor
from .desk_articles import LANGUAGE_NAMES


def _per_language(field: str) -> dict[str, str]:
    # Without NUL bytes, as every form field (forms.HelpdeskForm): the page shows them again.
    return {
        code: request.form.get(f"{field}_{code}", "").replace("\x00", "")
        for code in knowledge.languages()
    }


def _page(form: Any = None, failed_id: int | None = None, status: int = 200):
    return render(
        "helpdesk/desk/categories.html",
        categories=knowledge.categories(),
        counts=kb_categories.article_counts(),
        languages=knowledge.languages(),
        language_names=LANGUAGE_NAMES,
        new_form=form if failed_id is None and form is not None else _blank(),
        failed_form=form if failed_id is not None else None,
        failed_id=failed_id,
        button_form=get_form_class("desk_button")(formdata=None),
        typed={
            f"{field}_{code}": value
            for field in ("name", "description")
            for code, value in _per_language(field).items()
        }
        if request.method == "POST"
        else {},
    ), status


def _blank():
    return get_form_class("desk_kb_category")(formdata=None)


@bp.get("/articles/categories")
def categories():
    ensure(desk_actor(), "manage")
    return _page()


@bp.post("/articles/categories")
def create_category():
    actor = desk_actor()
    form = get_form_class("desk_kb_category")()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        category = kb_categories.create_category(
            actor, form.slug.data or "", _per_language("name"), _per_language("description")
        )
    except ValidationError as error:
        apply_service_error(form, error)
        return _page(form, status=422)
    flash(_("Category %(name)s created.", name=category.name_in("en")), "success")
    return redirect(url_for(".categories"))


@bp.post("/articles/categories/<helpdesk_id:category_id>")
def update_category(category_id: int):
    actor = desk_actor()
    category = kb_categories.get_category(actor, category_id)
    form = get_form_class("desk_kb_category")()
    if not form.validate_on_submit():
        return _page(form, failed_id=category.id, status=422)
    try:
        kb_categories.update_category(
            actor, category, _per_language("name"), _per_language("description")
        )
    except ValidationError as error:
        apply_service_error(form, error)
        return _page(form, failed_id=category.id, status=422)
    flash(_("Category saved."), "success")
    return redirect(url_for(".categories", _anchor=f"category-{category.id}"))


@bp.post("/articles/categories/<helpdesk_id:category_id>/up")
def category_up(category_id: int):
    return _button(category_id, "up")


@bp.post("/articles/categories/<helpdesk_id:category_id>/down")
def category_down(category_id: int):
    return _button(category_id, "down")


@bp.post("/articles/categories/<helpdesk_id:category_id>/delete")
def delete_category(category_id: int):
    return _button(category_id, "delete")


def _button(category_id: int, action: str):
    actor = desk_actor()
    category = kb_categories.get_category(actor, category_id)
    if not get_form_class("desk_button")().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for(".categories"))
    if action == "delete":
        try:
            kb_categories.delete_category(actor, category)
        except ValidationError as error:
            flash(error.message, "error")
        else:
            flash(_("Category deleted."), "success")
        return redirect(url_for(".categories"))
    kb_categories.move_category(actor, category, -1 if action == "up" else 1)
    return redirect(url_for(".categories", _anchor=f"category-{category.id}"))
