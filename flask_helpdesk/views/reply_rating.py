"""Rating one reply of support: from the ticket page (logged in) or from the reply mail's link
(no login: a signed, expiring token bound to the reply). Thin over services/reply_ratings.py.

The mail link's GET only shows the form (mail scanners open links); only the POST writes.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import login_required

from ..forms import get_form_class
from ..i18n import gettext as _
from ..models import Message
from ..services import NotFound, ValidationError, reply_ratings, tickets
from ..services.base import session
from .common import apply_service_error, render
from .portal import _actor, bp


@bp.post("/tickets/<code>/replies/<helpdesk_id:message_id>/rating")
@login_required
def rate_reply(code: str, message_id: int):
    actor = _actor()
    found = tickets.find_ticket(actor, code)
    message = session().get(Message, message_id)
    if message is None or message.ticket_id != found.id:
        raise NotFound(_("Message not found."))
    form = get_form_class("reply_rating")()
    if not form.validate_on_submit():
        # The form's own reason (an expired form, a forged field, no choice), not a guess.
        problems = [str(m) for messages in form.errors.values() for m in messages]
        flash(problems[0] if problems else _("Please choose helpful or not helpful."), "error")
    else:
        try:
            reply_ratings.rate_reply(
                actor, message, form.good.data == "good", form.comment.data or ""
            )
        except ValidationError as error:
            flash(error.message, "error")
        else:
            flash(_("Thank you for your feedback."), "success")
    return redirect(url_for(".ticket", code=found.code, _anchor=f"m{message.id}"))


@bp.route("/rate-reply/<token>", methods=["GET", "POST"])
def rate_reply_link(token: str):
    """The page a reply mail's "helpful?" links open; works without logging in."""
    problem = None
    message = None
    try:
        message = reply_ratings.reply_for_token(token)
    except ValidationError as error:
        problem = error.message
    if message is None:
        return render("helpdesk/portal/rate_reply.html", problem=problem, form=None), (
            410 if problem else 404
        )
    form = get_form_class("reply_rating")()
    if request.method == "GET" and request.args.get("v") in ("good", "bad"):
        form.good.data = request.args["v"]
    done = False
    if form.validate_on_submit():
        try:
            reply_ratings.rate_reply(
                None, message, form.good.data == "good", form.comment.data or ""
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            done = True
    status = 422 if request.method == "POST" and not done else 200
    return render(
        "helpdesk/portal/rate_reply.html", message=message, form=form, done=done, problem=None
    ), status
