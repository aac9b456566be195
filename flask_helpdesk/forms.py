"""The WTForms classes behind every helpdesk form.

A host replaces one by passing ``forms={"new_ticket": MyForm}`` to ``init_app`` (subclass ours to
keep the fields the views read). Flask-WTF gives every form its CSRF token.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask import current_app, has_request_context, request
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from .i18n import gettext
from .i18n import lazy_gettext as _l
from .models import Priority

REQUIRED = _l("This field is required.")
MAX_DURATION_HOURS = 366 * 24
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
CHOOSE_DEPARTMENT = _l("Please choose a department.")
CHOOSE_PRIORITY = _l("Please choose a priority.")
CHOOSE_STARS = _l("Please choose from 1 to 5 stars.")

# Fields only staff or the system set. A customer's POST carrying one was forged (a browser
# showing our form never sends them): it is refused with a form error instead of ignored.
STAFF_ONLY_FIELDS = frozenset(
    {
        "status",
        "requester_id",
        "requester",
        "assignee_id",
        "creator_contact_id",
        "creator_agent_id",
        "contact_id",
        "agent_id",
        "ticket_id",
        "code",
        "channel",
        "internal",
        "kind",
    }
)


def _without_nul(value: Any) -> Any:
    """PostgreSQL stores no NUL byte in text; a form value carrying one would be a 500 there."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


class HelpdeskForm(FlaskForm):
    """The base of every helpdesk form: each field's data loses NUL bytes before validation,
    so no text a visitor types reaches the database in a shape it refuses."""

    class Meta:
        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Any:
            options["filters"] = (*options.get("filters", ()), _without_nul)
            return unbound_field.bind(form=form, **options)


class CustomerForm(HelpdeskForm):
    """Base of the portal's forms: refuses a POST that tries to set a staff-only field.

    A host subclass may widen or empty ``forbidden_fields``.
    """

    forbidden_fields: ClassVar[frozenset[str]] = STAFF_ONLY_FIELDS

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if has_request_context() and request.method == "POST":
            forged = sorted(set(request.form) & self.forbidden_fields)
            if forged:
                self.form_errors.append(
                    gettext("This form cannot set: %(fields)s.", fields=", ".join(forged))
                )
                valid = False
        return valid


def department_field() -> Any:
    """The required department choice of the customers' forms (choices set by the view)."""
    return SelectField(
        _l("Department"),
        coerce=int,
        validators=[InputRequired(message=CHOOSE_DEPARTMENT)],
        invalid_value_message=CHOOSE_DEPARTMENT,
        invalid_choice_message=CHOOSE_DEPARTMENT,
    )


class NewTicketForm(CustomerForm):
    department_id = department_field()
    subject = StringField(
        _l("Subject"),
        # No length limit here: the service checks HELPDESK_SUBJECT_MAX_LENGTH, so the limit a
        # host configures is the one every channel (form, desk, mail) gets.
        validators=[InputRequired(message=_l("Please enter a subject."))],
    )
    priority = SelectField(
        _l("Priority"),
        coerce=int,
        default=int(Priority.NORMAL),
        choices=[SelectChoice(int(p), p.label) for p in Priority],
        invalid_value_message=CHOOSE_PRIORITY,
        invalid_choice_message=CHOOSE_PRIORITY,
    )
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    email = StringField(
        _l("Email"),
        validators=[
            Optional(),
            Length(max=254),
            Regexp(EMAIL_PATTERN, message=_l("Not a valid email.")),
        ],
    )
    body = TextAreaField(
        _l("Message"), validators=[InputRequired(message=_l("Please describe your request."))]
    )
    attachments = MultipleFileField(_l("Attachments"))
    notify_sms = BooleanField(_l("Notify me by SMS when support replies"))
    # Shown only after the duplicate guard found a similar open request (house rules).
    send_anyway = BooleanField(_l("Open a new request anyway"))


class ReplyForm(CustomerForm):
    body = TextAreaField(_l("Your reply"))
    attachments = MultipleFileField(_l("Attachments"))
    # Optimistic check: the newest message id the writer saw (the desk warns on a race).
    last_seen_message_id = HiddenField()


class CloseForm(CustomerForm):
    """Nothing but the CSRF token: closing is one button."""


class RateForm(CustomerForm):
    stars = SelectField(
        _l("Rating"),
        coerce=int,
        choices=[SelectChoice(i, str(i)) for i in range(1, 6)],
        validators=[InputRequired(message=CHOOSE_STARS), NumberRange(1, 5, message=CHOOSE_STARS)],
        invalid_value_message=CHOOSE_STARS,
        invalid_choice_message=CHOOSE_STARS,
    )
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=2000)])


class ArticleVoteForm(HelpdeskForm):
    """ "Was this helpful?": the pressed button (``helpful=yes|no``) is the answer."""

    helpful = HiddenField()


class ReplyRatingForm(CustomerForm):
    """Good or bad on one reply of support, with an optional comment (seed 004)."""

    good = RadioField(
        _l("Was this reply helpful?"),
        choices=[SelectChoice("good", _l("Helpful")), SelectChoice("bad", _l("Not helpful"))],
        validators=[InputRequired(message=_l("Please choose helpful or not helpful."))],
    )
    comment = TextAreaField(_l("Comment (optional)"), validators=[Optional(), Length(max=2000)])


class ContactForm(CustomerForm):
    """The help center's contact form for visitors who are not logged in (issue 15)."""

    name = StringField(
        _l("Your name"), validators=[InputRequired(message=_l("Please enter your name."))]
    )
    email = StringField(
        _l("Your email address"),
        validators=[
            InputRequired(message=_l("Please enter your email address.")),
            Length(max=254, message=_l("Not a valid email.")),
            Regexp(EMAIL_PATTERN, message=_l("Not a valid email.")),
        ],
    )
    department_id = department_field()
    # Lengths are the service's (HELPDESK_SUBJECT_MAX_LENGTH, HELPDESK_MESSAGE_MAX_LENGTH).
    subject = StringField(
        _l("Subject"), validators=[InputRequired(message=_l("Please enter a subject."))]
    )
    body = TextAreaField(
        _l("Message"), validators=[InputRequired(message=_l("Please describe your request."))]
    )
    # The honeypot: hidden from people (and from screen readers), filled in by form robots.
    website = StringField(_l("Leave this field empty"))


class ContactConfirmForm(HelpdeskForm):
    """The button that confirms a contact-form request, or asks for a new link."""


class AccessRequestForm(HelpdeskForm):
    """An agent asks the customer for access to their account (see docs/account-access.rst)."""

    reason = TextAreaField(
        _l("Why do you need access?"),
        validators=[InputRequired(message=REQUIRED), Length(max=2000)],
    )
    scope = SelectField(
        _l("Access"),
        default="view",
        choices=[
            SelectChoice("view", _l("View only")),
            SelectChoice("act", _l("Act as the customer")),
        ],
    )
    duration_hours = IntegerField(
        _l("For how many hours"),
        default=lambda: _default_grant_hours(),
        # A year at most here (the service caps it at HELPDESK_ACCESS_GRANT_MAX_DURATION):
        # 99999999999 hours is no duration Python can even add to a date.
        validators=[
            InputRequired(message=REQUIRED),
            NumberRange(
                min=1,
                max=MAX_DURATION_HOURS,
                message=_l("Enter a number of hours from %(min)s to %(max)s."),
            ),
        ],
    )


def _default_grant_hours() -> int:
    """``HELPDESK_ACCESS_GRANT_DURATION`` in whole hours (at least one): the form's default."""
    duration = current_app.extensions["helpdesk"].config["HELPDESK_ACCESS_GRANT_DURATION"]
    return max(1, round(duration.total_seconds() / 3600))


class AccessActionForm(HelpdeskForm):
    """Accept, decline, revoke, start, stop: one button each, with its CSRF token."""


DEFAULT_FORMS: dict[str, type[FlaskForm]] = {
    "article_vote": ArticleVoteForm,
    "contact": ContactForm,
    "contact_confirm": ContactConfirmForm,
    "new_ticket": NewTicketForm,
    "reply": ReplyForm,
    "close": CloseForm,
    "rate": RateForm,
    "reply_rating": ReplyRatingForm,
    "access_request": AccessRequestForm,
    "access_action": AccessActionForm,
}


def get_form_class(name: str) -> type[FlaskForm]:
    """The form class registered under *name*: the host's replacement, or ours."""
    return current_app.extensions["helpdesk"].forms.get(name) or DEFAULT_FORMS[name]


# The desk's and the admin's forms build on the ones above (REQUIRED, NewTicketForm...), so
# they are imported once those exist, and registered under their names too.
from .admin_forms import ADMIN_FORMS  # noqa: E402
from .desk_forms import DESK_FORMS  # noqa: E402

DEFAULT_FORMS.update(DESK_FORMS)
DEFAULT_FORMS.update(ADMIN_FORMS)
