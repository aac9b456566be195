"""Mirrors of the host's users, and the departments agents work in.

The helpdesk never joins the host's user table: ``user_id`` is the opaque string Flask-Login's
``user.get_id()`` returns, resolved back through the host's user loader when needed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import EnumText, HelpdeskModel, utcnow
from .enums import AgentRole, Availability

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

    agents: Mapped[list[Agent]] = relationship(
        secondary=agent_department, back_populates="departments"
    )


class Contact(HelpdeskModel):
    """A requester: a host user (``user_id`` set) or someone known only by email."""

    __tablename__ = "helpdesk_contact"

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
    is_active: Mapped[bool] = mapped_column(default=True)
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
        return self.role == AgentRole.ADMIN
