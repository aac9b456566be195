"""The demo site's own pages: a home page, login, logout and changing one's password."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from flask_helpdesk.services.agents import staff_by_user_id

from . import helpdesk
from .models import Member, db

site = Blueprint("site", __name__)
DEMO_LOGINS_SHOWN = 20  # demo logins listed on the login page


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[InputRequired()])
    password = PasswordField("Password", validators=[InputRequired()])


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[InputRequired()])
    new = PasswordField("New password", validators=[InputRequired(), Length(min=4)])


@site.get("/")
def home():
    return render_template("home.html")


@site.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        member = db.session.scalar(select(Member).where(Member.email == form.email.data))
        if member is not None and member.check_password(form.password.data or ""):
            login_user(member)
            target = request.args.get("next", "")
            # Only a path of this site: not "//other.example", not "/\\other.example" (a
            # browser reads "\\" as "/"), no CR/LF to split the Location header.
            if not (target.startswith("/") and target.isprintable()) or target[1:2] in "/\\":
                target = url_for("site.home")
            return redirect(target)
        flash("Wrong email or password.")
    # A few demo logins, not every member: a site with thousands would render them all on
    # every visit (400 members made this the slowest page of the load test). One more than
    # shown is read to know whether to say that there are others.
    demo_members = db.session.scalars(
        select(Member).order_by(Member.email).limit(DEMO_LOGINS_SHOWN + 1)
    ).all()
    more = len(demo_members) > DEMO_LOGINS_SHOWN
    demo_members = demo_members[:DEMO_LOGINS_SHOWN]
    # What each demo login is on the desk (role, departments), as the helpdesk knows it.
    staff = staff_by_user_id(m.get_id() for m in demo_members)
    return render_template(
        "login.html", form=form, demo_members=demo_members, staff=staff, more=more
    )


@site.post("/logout")
@login_required
@helpdesk.not_while_impersonating  # an agent acting for a customer stops instead of logging out
def logout():
    logout_user()
    return redirect(url_for("site.home"))


@site.route("/account/password", methods=["GET", "POST"])
@login_required
# Support acting for a customer (flask-helpdesk account access) never reaches this page, whatever
# the customer allowed: the helpdesk answers 403 with a page that explains why.
@helpdesk.not_while_impersonating
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        if current_user.check_password(form.current.data or ""):
            current_user.set_password(form.new.data or "")
            db.session.commit()
            flash("Your password was changed.")
            return redirect(url_for("site.change_password"))
        form.current.errors.append("Wrong password.")
    return render_template("password.html", form=form)


__all__ = ["site"]
