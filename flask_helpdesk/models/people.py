"""Mirrors of the host's users, and the departments agents work in.

The helpdesk never joins the host's user table: ``user_id`` is the opaque string Flask-Login's
``user.get_id()`` returns, resolved back through the host's user loader when needed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, false, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import EnumText, HelpdeskModel, utcnow
from .enums import AgentRole, Availability, DistributionMode

agent_department = Table(
    "helpdesk_agent_department",
    HelpdeskModel.metadata,
    Column("agent_id", ForeignKey("helpdesk_agent.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "department_id", ForeignKey("helpdesk_department.id", ondelete="CASCADE"), primary_key=True
    ),
)


class Department(HelpdeskModel):
    """The routing unit; customers pick it on the form (seed 000 calls them categories)."""

    __tablename__ = "helpdesk_department"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str | None] = mapped_column(String(254))  # from-address of its mail
    is_active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Automatic distribution of new tickets (services/distribution.py). Round robin remembers
    # the agent who got the last one here, so that the turn survives restarts and is shared by
    # every web process and worker. No foreign key: SQLite cannot add one without copying the
    # table; an id of an agent who left the department simply matches nobody.
    distribution: Mapped[DistributionMode] = mapped_column(
        EnumText(DistributionMode), default=DistributionMode.OFF, server_default="off"
    )
    distribution_last_agent_id: Mapped[int | None]

    agents: Mapped[list[Agent]] = relationship(
        secondary=agent_department, back_populates="departments"
    )


class Contact(HelpdeskModel):
    """A requester: a host user (``user_id`` set) or someone known only by email."""

    __tablename__ = "helpdesk_contact"
    # One email-only contact per address, whatever its case: two workers taking mail from a
    # new sender at once must file both mails under one customer (services.mail_routing's
    # insert-or-get relies on it). Host users' mirrors are left out: two host accounts may
    # share an address, and a mirror may share one with an older email-only contact.
    __table_args__ = (
        Index(
            "ux_helpdesk_contact_email_only",
            func.lower(text("email")),
            unique=True,
            sqlite_where=text("user_id IS NULL"),
            postgresql_where=text("user_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(40), index=True)
    locale: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str] = mapped_column(Text, default="")  # agents' notes about this customer
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # custom attributes
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.phone or f"#{self.id}"


class Agent(HelpdeskModel):
    """A staff member working tickets; mirrors a host user."""

    __tablename__ = "helpdesk_agent"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(40))
    role: Mapped[AgentRole] = mapped_column(EnumText(AgentRole), default=AgentRole.AGENT)
    availability: Mapped[Availability] = mapped_column(
        EnumText(Availability), default=Availability.AVAILABLE
    )
    capacity: Mapped[int] = mapped_column(default=20)  # open tickets before auto-assign skips
    # The agent's own working hours (a business calendar): outside them they are "off shift"
    # and distribution passes them by. None: the calendar of the ticket's SLA policy decides.
    shift_calendar_id: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    # The row exists only because the host said "admin" (sync on a desk visit): it gives no
    # rights of its own, so the host taking admin away takes the desk away on the next request.
    # ``role`` holds only what a helpdesk admin or the CLI decided; host admin is never stored.
    via_host_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    signature: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    departments: Mapped[list[Department]] = relationship(
        secondary=agent_department, back_populates="agents"
    )

    @property
    def display_name(self) -> str:
        return self.name or self.email or f"#{self.id}"

    @property
    def is_admin(self) -> bool:
        """Admin by the helpdesk's own decision (the host's ``is_admin`` is checked per request)."""
        return self.role == AgentRole.ADMIN

    def may_work(self, host_admin: bool) -> bool:
        """May this agent use the desk now, *host_admin* being what the host says today?"""
        return self.is_active and (host_admin or not self.via_host_admin)
