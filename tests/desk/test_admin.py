"""Admin pages (agents, departments), availability and ``flask helpdesk create-agent``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from example_app.models import Member
from flask_helpdesk.models import Agent, AgentRole, AuditEvent, Availability, Department, Ticket
from flask_helpdesk.services import ValidationError, agents
from flask_helpdesk.services import departments as departments_service
from flask_helpdesk.services.base import session
from tests.conftest import client_for, count_queries, make_member, post_form
from tests.desk.conftest import DESK, open_as

AGENTS = DESK + "/admin/agents"
DEPARTMENTS = DESK + "/admin/departments"


@pytest.fixture
def by_email(app) -> Iterator[None]:
    """The host registers ``@helpdesk.user_by_email`` (restored afterwards: it is global)."""
    extension = app.extensions["helpdesk"].extension
    previous = extension._user_by_email_callback
    extension.user_by_email(
        lambda email: session().scalar(select(Member).where(Member.email == email.lower()))
    )
    yield
    extension._user_by_email_callback = previous


def _agent_of(member) -> Agent | None:
    session().expire_all()
    return session().scalar(select(Agent).where(Agent.user_id == str(member.get_id())))


def _audits(action: str) -> list[AuditEvent]:
    return list(session().scalars(select(AuditEvent).where(AuditEvent.action == action)))


# -- who may -----------------------------------------------------------------------------------
def test_admin_pages_are_for_helpdesk_admins_only(app, departments, agent, admin, customer):
    for url in (AGENTS, DEPARTMENTS, f"{DEPARTMENTS}/{departments['account'].id}"):
        assert client_for(app, customer).get(url).status_code == 403
        assert client_for(app, agent.member).get(url).status_code == 403
        assert client_for(app, admin.member).get(url).status_code == 200
    nav = client_for(app, admin.member).get(DESK + "/").get_data(as_text=True)
    assert f'href="{AGENTS}"' in nav and f'href="{DEPARTMENTS}"' in nav
    assert f'href="{AGENTS}"' not in client_for(app, agent.member).get(DESK + "/").get_data(
        as_text=True
    )


def test_an_agent_given_the_admin_role_becomes_an_admin(app, departments, agent, admin):
    client = client_for(app, admin.member)
    post_form(
        client,
        f"{AGENTS}/{agent.actor.agent.id}",
        data={"role": "admin", "departments": [str(departments["account"].id)], "is_active": "y"},
    )
    assert client_for(app, agent.member).get(AGENTS).status_code == 200


# -- agents ------------------------------------------------------------------------------------
def test_admin_adds_an_agent_by_email_who_then_sees_their_departments(
    app, departments, admin, lan, by_email
):
    account = open_as(lan, departments["account"], "Account matter")
    billing = open_as(lan, departments["billing"], "Billing matter")
    newcomer = make_member("Hoa Pham", "hoa@example.com")
    newcomer_client = client_for(app, newcomer)
    assert newcomer_client.get(DESK + "/").status_code == 403  # not staff yet

    client = client_for(app, admin.member)
    response = post_form(
        client,
        AGENTS,
        data={
            "user": "HOA@example.com",
            "role": "lead",
            "departments": [str(departments["billing"].id)],
            "capacity": "7",
        },
    )
    assert response.status_code == 302
    listing = client.get(AGENTS).get_data(as_text=True)
    assert "Hoa Pham is now an agent." in listing and "Department lead" in listing
    hoa = _agent_of(newcomer)
    assert hoa.role == AgentRole.LEAD and hoa.capacity == 7
    assert [d.slug for d in hoa.departments] == ["billing"]
    assert _audits("agent.created")[0].data["departments"] == ["billing"]

    queue = newcomer_client.get(DESK + "/").get_data(as_text=True)
    assert billing.code in queue and account.code not in queue
    assert newcomer_client.get(f"{DESK}/tickets/{account.code}").status_code == 404


def test_admin_finds_a_site_user_and_adds_them(app, departments, admin, agent):
    newcomer = make_member("Hoa Pham", "hoa@example.com")
    client = client_for(app, admin.member)
    html = client.get(AGENTS + "?user_q=example.com").get_data(as_text=True)
    # The demo host's @helpdesk.user_search finds every member; staff link to their page.
    assert f'href="{AGENTS}?user={newcomer.get_id()}#hd-add-agent"' in html
    assert f'href="{AGENTS}/{agent.actor.agent.id}">already an agent' in html
    form = client.get(f"{AGENTS}?user={newcomer.get_id()}").get_data(as_text=True)
    assert re.search(rf'<input[^>]*name="user"[^>]*value="{newcomer.get_id()}"', form)
    response = post_form(
        client,
        f"{AGENTS}?user={newcomer.get_id()}",
        AGENTS,
        data={"user": str(newcomer.get_id()), "role": "agent"},
    )
    assert response.status_code == 302
    assert _agent_of(newcomer) is not None
    assert "No user found." in client.get(AGENTS + "?user_q=nobody-at-all").get_data(as_text=True)


def test_adding_by_id_and_the_errors_a_typo_gets(app, departments, admin, agent):
    newcomer = make_member("Hoa Pham", "hoa@example.com")
    client = client_for(app, admin.member)
    cases = [
        ({"user": "not-a-user"}, "No user not-a-user on this site."),
        ({"user": "hoa@example.com"}, "registers no @helpdesk.user_by_email"),
        ({"user": str(agent.member.get_id())}, "is an agent already."),
        ({"user": str(newcomer.get_id()), "departments": ["999999"]}, "Unknown department"),
        ({"user": str(newcomer.get_id()), "role": "owner"}, "Unknown role."),
        ({"user": str(newcomer.get_id()), "capacity": "-3"}, "Number must be between"),
    ]
    for data, error in cases:
        response = post_form(client, AGENTS, data={"role": "agent", **data})
        assert response.status_code == 422, data
        assert error in response.get_data(as_text=True), data
    assert _agent_of(newcomer) is None
    post_form(client, AGENTS, data={"user": str(newcomer.get_id()), "role": "agent"})
    assert _agent_of(newcomer).role == AgentRole.AGENT


def test_admin_edits_role_departments_capacity_and_deactivates(app, departments, admin, agent):
    client = client_for(app, admin.member)
    page = f"{AGENTS}/{agent.actor.agent.id}"
    form = client.get(page).get_data(as_text=True)
    assert 'name="capacity"' in form and 'value="20"' in form
    response = post_form(
        client,
        page,
        data={
            "role": "lead",
            "departments": [str(departments["billing"].id), str(departments["other"].id)],
            "capacity": "5",
        },  # is_active unticked
    )
    assert response.status_code == 302
    minh = _agent_of(agent.member)
    assert minh.role == AgentRole.LEAD and minh.capacity == 5 and not minh.is_active
    assert sorted(d.slug for d in minh.departments) == ["billing", "other"]
    change = _audits("agent.updated")[0].data
    assert change["departments"] == [["account"], ["billing", "other"]]
    assert change["is_active"] == [True, False]
    assert client_for(app, agent.member).get(DESK + "/").status_code == 403


def test_forged_values_on_the_agent_form_change_nothing(app, departments, admin, agent):
    client = client_for(app, admin.member)
    page = f"{AGENTS}/{agent.actor.agent.id}"
    for data in (
        {"role": "superuser", "departments": [str(departments["billing"].id)]},
        {"role": "agent", "departments": ["0"]},
        {"role": "agent", "departments": ["billing; drop table"]},
    ):
        response = post_form(client, page, data={"is_active": "y", "capacity": "3", **data})
        assert response.status_code == 422
    minh = _agent_of(agent.member)
    assert [d.slug for d in minh.departments] == ["account"] and minh.capacity == 20
    assert not _audits("agent.updated")


def test_admins_cannot_lock_themselves_out(app, departments, admin, agent):
    # Alex is a host admin: the site decides, the helpdesk cannot demote him.
    client = client_for(app, admin.member)
    me = f"{AGENTS}/{admin.actor.agent.id}"
    html = post_form(client, me, data={"role": "admin"}).get_data(as_text=True)
    assert "You cannot deactivate yourself." in html
    html = post_form(client, me, data={"role": "agent", "is_active": "y"}).get_data(as_text=True)
    assert "The site makes this user an admin; change it there." in html
    # Nor can another admin deactivate him.
    other = agents.make_agent(make_member("Ana Admin", "ana@example.com").get_id(), [], "admin")
    from flask_helpdesk.services.identity import agent_as_actor

    with pytest.raises(ValidationError, match="The site makes this user an admin"):
        agents.update_agent(agent_as_actor(other), admin.actor.agent, "admin", [], 20, False)
    assert _agent_of(admin.member).is_active
    # An agent made admin in the helpdesk cannot drop their own role either.
    agents.update_agent(
        admin.actor, agent.actor.agent, "admin", [departments["account"].id], 20, True
    )
    minh = client_for(app, agent.member)
    page = f"{AGENTS}/{agent.actor.agent.id}"
    html = post_form(minh, page, data={"role": "agent", "is_active": "y"}).get_data(as_text=True)
    assert "You cannot take the admin role from yourself." in html
    assert _agent_of(agent.member).role == AgentRole.ADMIN


def test_agent_list_queries_do_not_grow_with_agents(app, departments, admin, lan):
    client = client_for(app, admin.member)

    def queries() -> int:
        client.get(AGENTS)  # warm: the same identity map state both times
        with count_queries(app) as statements:
            assert client.get(AGENTS).status_code == 200
        return len(statements)

    few = queries()
    for i in range(8):
        member = make_member(f"Agent {i}", f"agent{i}@example.com")
        agent = agents.make_agent(member.get_id(), ["account", "billing"])
        ticket = open_as(lan, departments["account"])
        from flask_helpdesk.services import desk
        from flask_helpdesk.services.identity import agent_as_actor

        desk.assign(agent_as_actor(agent), ticket, agent.id)
    assert queries() == few <= 12


# -- availability --------------------------------------------------------------------------------
def test_agent_sets_their_own_availability_from_the_desk(app, departments, agent, admin):
    client = client_for(app, agent.member)
    queue = client.get(DESK + "/").get_data(as_text=True)
    assert 'name="availability"' in queue and f'action="{DESK}/me/availability"' in queue
    response = post_form(
        client,
        DESK + "/",
        DESK + "/me/availability",
        data={"availability": "on_break", "next": DESK + "/?view=mine"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("?view=mine")
    assert _agent_of(agent.member).availability == Availability.ON_BREAK
    assert "You are now: On break." in client.get(DESK + "/").get_data(as_text=True)
    assert "On break" in client_for(app, admin.member).get(AGENTS).get_data(as_text=True)

    post_form(client, DESK + "/", DESK + "/me/availability", data={"availability": "asleep"})
    assert _agent_of(agent.member).availability == Availability.ON_BREAK
    assert "Unknown availability." in client.get(DESK + "/").get_data(as_text=True)


# -- departments --------------------------------------------------------------------------------
def test_admin_creates_renames_and_sets_the_from_address(app, departments, admin):
    client = client_for(app, admin.member)
    response = post_form(
        client,
        DEPARTMENTS,
        data={
            "name": "Refunds",
            "slug": "refunds",
            "email": "refunds@shop.example",
            "position": "4",
        },
    )
    assert response.status_code == 302
    refunds = session().scalar(select(Department).where(Department.slug == "refunds"))
    assert refunds.email == "refunds@shop.example" and refunds.position == 4
    page = f"{DEPARTMENTS}/{refunds.id}"
    post_form(client, page, data={"name": "Refunds & returns", "email": "", "position": "4"})
    session().expire_all()
    assert refunds.name == "Refunds & returns" and refunds.email is None
    assert refunds.slug == "refunds"
    assert "Refunds &amp; returns" in client.get(DEPARTMENTS).get_data(as_text=True)
    for data, error in [
        ({"name": ""}, "This field is required."),
        ({"name": "X", "email": "not an address"}, "Not a valid email."),
    ]:
        response = post_form(client, page, data=data)
        assert response.status_code == 422 and error in response.get_data(as_text=True)
    for data, error in [
        ({"name": "Refunds again", "slug": "refunds"}, "Already in use."),
        ({"name": "Weird", "slug": "Has Spaces"}, "Use lower-case letters, digits and dashes."),
    ]:
        response = post_form(client, DEPARTMENTS, data=data)
        assert response.status_code == 422 and error in response.get_data(as_text=True)
    assert [a.data for a in _audits("department.updated")] == [
        {
            "department_id": refunds.id,
            "name": ["Refunds", "Refunds & returns"],
            "email": ["refunds@shop.example", None],
        }
    ]


def test_a_department_with_tickets_is_deactivated_never_deleted(
    app, departments, admin, agent, lan, customer
):
    billing = departments["billing"]
    ticket = open_as(lan, billing)
    client = client_for(app, admin.member)
    page = f"{DEPARTMENTS}/{billing.id}"
    response = post_form(client, page, f"{page}/delete")
    assert response.status_code == 303
    assert "This department has tickets: deactivate it instead." in client.get(page).get_data(
        as_text=True
    )
    assert session().get(Department, billing.id) is not None

    post_form(client, page, f"{page}/deactivate")
    session().expire_all()
    assert not billing.is_active and session().get(Ticket, ticket.id).department_id == billing.id
    portal_form = client_for(app, customer).get("/support/new").get_data(as_text=True)
    assert f'<option value="{billing.id}">Billing</option>' not in portal_form
    assert f'<option value="{departments["account"].id}">Account</option>' in portal_form
    with pytest.raises(ValidationError):
        agents.update_agent(admin.actor, agent.actor.agent, "agent", [billing.id], 20, True)

    post_form(client, page, f"{page}/activate")
    session().expire_all()
    assert billing.is_active
    actions = [a.action for a in session().scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "department.deactivated" in actions and "department.activated" in actions

    unused = departments["other"]
    page = f"{DEPARTMENTS}/{unused.id}"
    post_form(client, page, f"{page}/delete")
    assert session().scalar(select(func.count()).where(Department.id == unused.id)) == 0


def test_department_list_queries_do_not_grow(app, departments, admin, lan):
    client = client_for(app, admin.member)
    client.get(DEPARTMENTS)
    with count_queries(app) as few:
        client.get(DEPARTMENTS)
    for i in range(6):
        department = departments_service.create_department(admin.actor, f"Extra {i}")
        open_as(lan, department)
    client.get(DEPARTMENTS)
    with count_queries(app) as many:
        assert client.get(DEPARTMENTS).status_code == 200
    assert len(many) <= len(few) <= 8


# -- create-agent --------------------------------------------------------------------------------
def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["helpdesk", "create-agent", *args])


def test_create_agent_by_id_and_by_email(app, departments, by_email):
    member = make_member("Hoa Pham", "hoa@example.com")
    result = _cli(app, str(member.get_id()), "--department", "billing", "--capacity", "9")
    assert result.exit_code == 0, result.output
    assert "Hoa Pham (agent); departments: billing; capacity: 9" in result.output
    result = _cli(app, "hoa@example.com", "--department", "account", "--role", "lead")
    assert result.exit_code == 0, result.output
    assert "(lead); departments: account, billing" in result.output
    agent = _agent_of(member)
    assert agent.role == AgentRole.LEAD and agent.capacity == 9


def test_create_agent_errors_are_clear_and_change_nothing(app, departments):
    member = make_member("Hoa Pham", "hoa@example.com")
    cases = [
        (["nobody"], "No user nobody on this site."),
        (["hoa@example.com"], "registers no @helpdesk.user_by_email"),
        ([str(member.get_id()), "--department", "nope"], "Unknown department: nope"),
        ([str(member.get_id()), "--role", "owner"], "Invalid value for '--role'"),
        ([str(member.get_id()), "--capacity", "-1"], "Invalid value for '--capacity'"),
    ]
    for args, error in cases:
        result = _cli(app, *args)
        assert result.exit_code != 0, args
        assert error in result.output, (args, result.output)
    assert _agent_of(member) is None
