"""Mail to the admins when a webhook endpoint was switched off after failing too often."""

from __future__ import annotations

from flask_babel import force_locale
from sqlalchemy import select

from ... import jobs
from ...i18n import gettext as _
from ...links import external_url
from ...mail.outbound import AUTOMATIC_HEADERS, render_mail, send_mail
from ...models import Agent, AgentRole, WebhookEndpoint
from ..base import session
from .tickets import _agent_locale


def admins_of_disabled_webhook(endpoint_id: int) -> None:
    """Tell every active admin with an address which endpoint stopped, and why."""
    endpoint = session().get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.is_active:
        return  # switched on again meanwhile: nothing to report
    admins = session().scalars(
        select(Agent).where(Agent.role == AgentRole.ADMIN, Agent.is_active.is_(True))
    )
    url = external_url("helpdesk_desk.admin_webhook", endpoint_id=endpoint.id)
    for admin in admins:
        if not admin.email:
            continue
        done_key = f"mail:webhook_disabled:{endpoint.id}:{admin.email.casefold()}"
        if jobs.already_done(done_key):
            continue
        rendered = render_mail(
            "webhook_disabled", locale=_agent_locale(admin), endpoint=endpoint, url=url
        )
        with force_locale(rendered.locale):
            subject = _("Webhook switched off: %(url)s", url=endpoint.url[:80])
        send_mail([admin.email], subject, rendered.text, rendered.html, headers=AUTOMATIC_HEADERS)
        jobs.mark_done(done_key)
