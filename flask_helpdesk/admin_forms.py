"""Forms of the desk's admin pages (agents, departments, SLA), bulk actions and availability.

Registered in ``forms.DEFAULT_FORMS`` like the other desk forms, so a host can replace any.
Choice fields skip WTForms' choice check: the services refuse forged values, for every channel.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from .forms import EMAIL_PATTERN, REQUIRED, HelpdeskForm
from .i18n import lazy_gettext as _l


class BulkForm(HelpdeskForm):
    """The queue's selection: the pressed button's ``action`` says what to do with it."""

    ticket_ids = SelectMultipleField(validate_choice=False)
    action = HiddenField()
    assignee_id = SelectField(_l("Assign to"), validate_choice=False)
    status = SelectField(_l("Status"), validate_choice=False)
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=1000)])
    next = HiddenField()


class AvailabilityForm(HelpdeskForm):
    availability = SelectField(_l("Availability"), validate_choice=False)
    next = HiddenField()


class _AgentFields(HelpdeskForm):
    role = SelectField(_l("Role"), validate_choice=False)
    departments = SelectMultipleField(_l("Departments"), validate_choice=False)
    capacity = IntegerField(
        _l("Capacity"),
        description=_l("Most live tickets this agent should hold at once."),
        validators=[Optional(), NumberRange(min=0, max=1000)],
    )


class AgentAddForm(_AgentFields):
    user = StringField(
        _l("User id or email"),
        validators=[InputRequired(message=REQUIRED), Length(max=254)],
    )


class AgentEditForm(_AgentFields):
    is_active = BooleanField(_l("Active (may use the desk)"))
    shift_calendar_id = SelectField(
        _l("Working hours"),
        description=_l(
            "Outside these hours automatic distribution passes the agent by."
            " None: the hours of the ticket's service level."
        ),
        validate_choice=False,
    )


class DepartmentForm(HelpdeskForm):
    name = StringField(_l("Name"), validators=[InputRequired(message=REQUIRED), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    email = StringField(
        _l("From address"),
        description=_l("Mail about this department's tickets is sent from this address."),
        validators=[
            Optional(),
            Length(max=254),
            Regexp(EMAIL_PATTERN, message=_l("Not a valid email.")),
        ],
    )
    position = IntegerField(_l("Position in lists"), default=0, validators=[Optional()])
    distribution = SelectField(
        _l("Automatic distribution"),
        description=_l(
            "Who gets a new ticket: nobody (agents take them), the next available agent in turn,"
            " or the available agent with the fewest open tickets. Full agents are skipped."
        ),
        validate_choice=False,
    )


class NewDepartmentForm(DepartmentForm):
    slug = StringField(
        _l("Short name (in links and mail routing)"),
        validators=[Optional(), Length(max=64)],
    )


class RuleForm(HelpdeskForm):
    """An automation rule; conditions and actions are the JSON of docs/automation.rst."""

    name = StringField(_l("Name"), validators=[InputRequired(message=REQUIRED), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    trigger = SelectField(_l("Runs when"), validate_choice=False)
    after = IntegerField(_l("After"), validators=[Optional(), NumberRange(min=1, max=8784)])
    unit = SelectField(_l("Unit"), validate_choice=False)
    conditions = TextAreaField(_l("Conditions (JSON)"), validators=[Optional(), Length(max=20000)])
    actions = TextAreaField(_l("Actions (JSON)"), validators=[Optional(), Length(max=20000)])
    is_active = BooleanField(_l("Switched on"))


class AutoCloseForm(HelpdeskForm):
    after = IntegerField(
        _l("Close after"),
        default=3,
        validators=[InputRequired(message=REQUIRED), NumberRange(min=1, max=365)],
    )
    working_days = BooleanField(_l("Count working days only"))
    is_active = BooleanField(_l("Switched on"))


class HouseRulesForm(HelpdeskForm):
    """The three house-rule presets on one page (services/house_rules.py)."""

    language_enabled = BooleanField(_l("Close requests written in other languages"))
    accepted = SelectMultipleField(_l("Accepted languages"), validate_choice=False)
    duplicate_enabled = BooleanField(_l("Point customers to their similar open request"))
    abuse_enabled = BooleanField(_l("Limit new requests per customer"))
    per_hour = IntegerField(
        _l("New requests per hour"), validators=[InputRequired(), NumberRange(1, 10_000)]
    )
    per_day = IntegerField(
        _l("New requests per day"), validators=[InputRequired(), NumberRange(1, 10_000)]
    )


WEEKDAYS = (
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
)
HOURS_HINT = _l('Windows such as "08:00-12:00, 13:00-17:00"; empty: closed.')


class CalendarForm(HelpdeskForm):
    """A business calendar: ``day_0`` (Monday) .. ``day_6`` (Sunday) hold that day's windows."""

    name = StringField(_l("Name"), validators=[InputRequired(message=REQUIRED), Length(max=120)])
    timezone = StringField(
        _l("Time zone"),
        description=_l("An IANA name, such as Europe/Berlin or Asia/Ho_Chi_Minh."),
        default="UTC",
        validators=[InputRequired(message=REQUIRED), Length(max=64)],
    )
    day_0 = StringField(WEEKDAYS[0], validators=[Optional(), Length(max=200)])
    day_1 = StringField(WEEKDAYS[1], validators=[Optional(), Length(max=200)])
    day_2 = StringField(WEEKDAYS[2], validators=[Optional(), Length(max=200)])
    day_3 = StringField(WEEKDAYS[3], validators=[Optional(), Length(max=200)])
    day_4 = StringField(WEEKDAYS[4], validators=[Optional(), Length(max=200)])
    day_5 = StringField(WEEKDAYS[5], validators=[Optional(), Length(max=200)])
    day_6 = StringField(WEEKDAYS[6], validators=[Optional(), Length(max=200)])


class HolidayForm(HelpdeskForm):
    day = DateField(_l("Day"), validators=[InputRequired(message=REQUIRED)])
    name = StringField(_l("What the day is called"), validators=[Optional(), Length(max=200)])


class HolidayImportForm(HelpdeskForm):
    """Either a country (and subdivision) from the holidays library, or an iCalendar file."""

    country = StringField(
        _l("Country code"),
        description=_l("Two letters, such as DE, US, VN or IR."),
        validators=[Optional(), Length(max=8)],
    )
    subdivision = StringField(
        _l("State or province code"),
        description=_l("Optional, such as BY for Bavaria."),
        validators=[Optional(), Length(max=16)],
    )
    ical_file = FileField(_l("iCalendar file (.ics)"))


class PolicyForm(HelpdeskForm):
    name = StringField(_l("Name"), validators=[InputRequired(message=REQUIRED), Length(max=120)])
    calendar_id = SelectField(_l("Calendar"), validate_choice=False)
    first_response_minutes = IntegerField(
        _l("First response (working minutes)"), validators=[Optional()]
    )
    next_response_minutes = IntegerField(
        _l("Next response (working minutes)"), validators=[Optional()]
    )
    resolution_minutes = IntegerField(_l("Resolution (working minutes)"), validators=[Optional()])
    after_hours_first_response_minutes = IntegerField(
        _l("First response outside hours (minutes)"),
        description=_l("Plain minutes for a ticket opened while the calendar is closed."),
        validators=[Optional()],
    )
    warn_before_minutes = IntegerField(
        _l("Warn this many working minutes before"), default=30, validators=[Optional()]
    )
    departments = SelectMultipleField(_l("Departments"), validate_choice=False)
    priorities = SelectMultipleField(_l("Priorities"), validate_choice=False)
    channels = SelectMultipleField(_l("Channels"), validate_choice=False)
    customer = TextAreaField(
        _l("Customer attributes"),
        description=_l("One name=value a line, such as plan=gold; every line must hold."),
        validators=[Optional(), Length(max=2000)],
    )
    notify_outside_hours = BooleanField(_l("Notify agents outside opening hours too"))
    is_active = BooleanField(_l("Active"), default=True)
    is_default = BooleanField(_l("Default policy (catches every other ticket)"))


class PolicyMoveForm(HelpdeskForm):
    direction = HiddenField()


class AdminActionForm(HelpdeskForm):
    """One button (deactivate, reactivate, delete): only the CSRF token."""


ADMIN_FORMS: dict[str, type[FlaskForm]] = {
    "desk_bulk": BulkForm,
    "desk_availability": AvailabilityForm,
    "admin_agent_add": AgentAddForm,
    "admin_agent_edit": AgentEditForm,
    "admin_department": DepartmentForm,
    "admin_department_new": NewDepartmentForm,
    "admin_action": AdminActionForm,
    "admin_rule": RuleForm,
    "admin_auto_close": AutoCloseForm,
    "admin_house_rules": HouseRulesForm,
    "admin_calendar": CalendarForm,
    "admin_holiday": HolidayForm,
    "admin_holiday_import": HolidayImportForm,
    "admin_sla_policy": PolicyForm,
    "admin_sla_policy_move": PolicyMoveForm,
}
