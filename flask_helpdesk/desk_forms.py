"""The desk's forms. Registered in ``forms.DEFAULT_FORMS`` so a host can replace any of them.

Select fields skip WTForms' choice check (``validate_choice=False``): the service decides what
is allowed (a forged department, assignee or status must be refused there, for every channel).
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from .forms import REQUIRED, STAFF_ONLY_FIELDS, HelpdeskForm, NewTicketForm, ReplyForm
from .i18n import lazy_gettext as _l


class DeskReplyForm(ReplyForm):
    """Public reply or internal note (the pressed button says which: ``action=reply|note``).

    ``action=insert`` sends nothing: the page comes back with the chosen canned reply added to
    the text (how canned replies work without JavaScript).
    """

    canned_id = SelectField(_l("Canned reply"), validate_choice=False)
    # "Send and set status": what the ticket becomes once the reply is sent.
    then_status = SelectField(_l("Then"), validate_choice=False, default="")


class StatusForm(HelpdeskForm):
    status = SelectField(_l("Status"), validate_choice=False)


class PriorityForm(HelpdeskForm):
    priority = SelectField(_l("Priority"), validate_choice=False)


class TransferForm(HelpdeskForm):
    department_id = SelectField(_l("Department"), validate_choice=False)


class AssignForm(HelpdeskForm):
    assignee_id = SelectField(_l("Assignee"), validate_choice=False)


class TagsForm(HelpdeskForm):
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=1000)])


class TagRemoveForm(HelpdeskForm):
    """One button per tag: which tag it removes."""

    tag = HiddenField(validators=[InputRequired(message=REQUIRED), Length(max=64)])


class PropertiesForm(HelpdeskForm):
    """The workspace's properties panel: every field of the ticket, one Save."""

    status = SelectField(_l("Status"), validate_choice=False)
    priority = SelectField(_l("Priority"), validate_choice=False)
    assignee_id = SelectField(_l("Assignee"), validate_choice=False)
    department_id = SelectField(_l("Department"), validate_choice=False)
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=1000)])


class MergeForm(HelpdeskForm):
    target_code = StringField(
        _l("Merge into ticket"), validators=[InputRequired(message=REQUIRED), Length(max=40)]
    )


class ContactNotesForm(HelpdeskForm):
    notes = TextAreaField(_l("Notes about this customer"), validators=[Length(max=20_000)])


class SaveViewForm(HelpdeskForm):
    name = StringField(_l("Name"), validators=[InputRequired(message=REQUIRED), Length(max=80)])
    query = HiddenField()


class DeleteViewForm(HelpdeskForm):
    """Only the CSRF token (deleting a saved view or a canned reply is one button)."""


class CannedReplyForm(HelpdeskForm):
    """Create or edit a canned reply; ``department_id`` empty means personal."""

    title = StringField(_l("Title"), validators=[InputRequired(message=REQUIRED), Length(max=120)])
    body = TextAreaField(_l("Text"), validators=[InputRequired(message=REQUIRED)])
    department_id = SelectField(_l("Shared with"), validate_choice=False)


class ApiTokenForm(HelpdeskForm):
    """A new API token; ``kind`` and the ``admin`` scope are offered to admins only."""

    name = StringField(_l("Name"), validators=[InputRequired(message=REQUIRED), Length(max=120)])
    scope = SelectField(_l("Scope"), validate_choice=False, default="read")
    kind = SelectField(_l("Kind"), validate_choice=False, default="personal")
    days = IntegerField(_l("Expires after (days)"), validators=[Optional(), NumberRange(1, 1830)])


class WebhookForm(HelpdeskForm):
    url = StringField(_l("URL"), validators=[InputRequired(message=REQUIRED), Length(max=2000)])
    events = StringField(_l("Events"), default="*", validators=[Length(max=1000)])
    description = StringField(_l("Description"), validators=[Length(max=200)])


class RenameViewForm(HelpdeskForm):
    name = StringField(_l("Name"), validators=[InputRequired(message=REQUIRED), Length(max=80)])


class OnBehalfForm(NewTicketForm):
    """A ticket an agent opens for a customer (seed 001: "Tạo cho tài khoản")."""

    # The portal form refuses a posted requester; here choosing one is the point.
    forbidden_fields = STAFF_ONLY_FIELDS - {"requester_id"}

    requester_id = HiddenField(validators=[InputRequired(message=REQUIRED)])
    send_to_user = BooleanField(_l("Send to user"), default=True)
    # The agent's words, not the customer's ("Notify me…", "describe your request").
    body = TextAreaField(
        _l("Message"), validators=[InputRequired(message=_l("Please write the message."))]
    )
    notify_sms = BooleanField(_l("Notify the customer by SMS when support replies"))


class ArticleForm(HelpdeskForm):
    """The article editor. ``action=preview`` shows the page as customers will see it, without
    saving; ``action=save`` saves."""

    title = StringField(_l("Title"), validators=[InputRequired(message=REQUIRED), Length(max=200)])
    language = SelectField(_l("Article language"), validate_choice=False)
    category_id = SelectField(_l("Category"), validate_choice=False, default="")
    status = SelectField(_l("Status"), validate_choice=False, default="draft")
    visibility = SelectField(_l("Who can read it"), validate_choice=False, default="public")
    slug = StringField(_l("Address (slug)"), validators=[Optional(), Length(max=120)])
    body_markdown = TextAreaField(_l("Text (Markdown)"))
    files = MultipleFileField(_l("Images and files"))
    translation_of = HiddenField()


class CategoryForm(HelpdeskForm):
    """A knowledge-base category: its address (on creation) and, per language of the help
    center, a name and a description (``name_<code>``, ``description_<code>``: the languages
    are the host's, so those fields are read by the view, not declared here)."""

    slug = StringField(_l("Address (slug)"), validators=[Length(max=80)])


DESK_FORMS: dict[str, type[FlaskForm]] = {
    "desk_article": ArticleForm,
    "desk_kb_category": CategoryForm,
    "desk_reply": DeskReplyForm,
    "desk_status": StatusForm,
    "desk_priority": PriorityForm,
    "desk_transfer": TransferForm,
    "desk_assign": AssignForm,
    "desk_tags": TagsForm,
    "desk_tag_remove": TagRemoveForm,
    "desk_merge": MergeForm,
    "desk_properties": PropertiesForm,
    "desk_contact_notes": ContactNotesForm,
    "desk_save_view": SaveViewForm,
    "desk_delete_view": DeleteViewForm,
    "desk_rename_view": RenameViewForm,
    "desk_on_behalf": OnBehalfForm,
    "desk_canned_reply": CannedReplyForm,
    "desk_canned_delete": DeleteViewForm,
    "desk_api_token": ApiTokenForm,
    "desk_webhook": WebhookForm,
    "desk_button": DeleteViewForm,
}
