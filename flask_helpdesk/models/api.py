"""API tokens: personal tokens of agents and service tokens of host systems (docs/api.rst).

Only a SHA-256 of the token is stored (the token is random, 256 bits: a slow hash adds
nothing); the visible ``prefix`` lets people tell their tokens apart in lists and logs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import HelpdeskModel, utcnow
from .people import Agent


class ApiToken(HelpdeskModel):
    __tablename__ = "helpdesk_api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # "personal" (acts as agent_id, with their permissions) or "service" (a host system).
    kind: Mapped[str] = mapped_column(String(16), default="personal")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64), default="read")  # space-separated
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_agent.id", ondelete="CASCADE"), index=True
    )
    created_by_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_agent.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    agent: Mapped[Agent | None] = relationship(foreign_keys=[agent_id])

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())
