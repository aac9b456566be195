"""The admin page "House rules": the seeds' presets (wrong language, duplicates, abuse) switched
on and set in one form (services/house_rules.py checks, stores and audits)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, url_for
from wtforms.fields.choices import SelectChoice

from ..forms import get_form_class
from ..i18n import gettext as _
from ..i18n import language_names
from ..services import ServiceError, house_rules
from ..services.permissions import ensure
from .common import apply_service_error, render
from .desk import bp, desk_actor

# Languages offered as "accepted": those the detector knows that support teams most often
# answer in; any ISO 639-1 code works through the service.
OFFERED_LANGUAGES = (
    "en", "vi", "fa", "ar", "de", "es", "fr", "hi", "id", "it", "ja", "ko", "nl", "pl", "pt",
    "ru", "th", "tr", "uk", "zh",
)  # fmt: skip


def _choices(form: Any) -> None:
    form.accepted.choices = [
        SelectChoice(code, language_names([code])) for code in OFFERED_LANGUAGES
    ]


def _page(actor: Any, form: Any, status: int = 200):
    _choices(form)
    return render(
        "helpdesk/admin/house_rules.html",
        actor=actor,
        form=form,
        detector=house_rules.detector_available(),
    ), status


@bp.get("/admin/house-rules")
def admin_house_rules():
    actor = desk_actor()
    ensure(actor, "manage")  # Forbidden -> 403 by the blueprint's error handler
    rules = house_rules.rules()
    form = get_form_class("admin_house_rules")(formdata=None)
    form.language_enabled.data = rules[house_rules.LANGUAGE].enabled
    form.accepted.data = list(rules[house_rules.LANGUAGE].settings["accepted"])
    form.duplicate_enabled.data = rules[house_rules.DUPLICATE].enabled
    form.abuse_enabled.data = rules[house_rules.ABUSE].enabled
    form.per_hour.data = rules[house_rules.ABUSE].settings["per_hour"]
    form.per_day.data = rules[house_rules.ABUSE].settings["per_day"]
    return _page(actor, form)


@bp.post("/admin/house-rules")
def admin_save_house_rules():
    actor = desk_actor()
    ensure(actor, "manage")
    form = get_form_class("admin_house_rules")()
    if not form.validate_on_submit():
        return _page(actor, form, 422)
    try:
        house_rules.save(
            actor,
            {
                house_rules.LANGUAGE: (
                    bool(form.language_enabled.data),
                    {"accepted": form.accepted.data or []},
                ),
                house_rules.DUPLICATE: (bool(form.duplicate_enabled.data), {}),
                house_rules.ABUSE: (
                    bool(form.abuse_enabled.data),
                    {"per_hour": form.per_hour.data, "per_day": form.per_day.data},
                ),
            },
        )
    except ServiceError as error:
        apply_service_error(form, error)
        return _page(actor, form, 422)
    flash(_("House rules saved."), "success")
    return redirect(url_for(".admin_house_rules"))
