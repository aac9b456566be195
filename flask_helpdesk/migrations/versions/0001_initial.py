"""Initial schema: departments, people, tickets, messages, attachments, ratings, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:12:20.625520
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_agent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("availability", sa.String(length=20), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_agent")),
        sa.UniqueConstraint("user_id", name=op.f("uq_helpdesk_agent_user_id")),
    )
    op.create_table(
        "helpdesk_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_contact")),
        sa.UniqueConstraint("user_id", name=op.f("uq_helpdesk_contact_user_id")),
    )
    op.create_index(op.f("ix_helpdesk_contact_email"), "helpdesk_contact", ["email"])
    op.create_index(op.f("ix_helpdesk_contact_phone"), "helpdesk_contact", ["phone"])
    op.create_table(
        "helpdesk_department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_department")),
        sa.UniqueConstraint("slug", name=op.f("uq_helpdesk_department_slug")),
    )
    op.create_table(
        "helpdesk_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_tag")),
        sa.UniqueConstraint("name", name=op.f("uq_helpdesk_tag_name")),
    )
    op.create_table(
        "helpdesk_agent_department",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_agent_department_agent_id_helpdesk_agent"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["helpdesk_department.id"],
            name=op.f("fk_helpdesk_agent_department_department_id_helpdesk_department"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "agent_id", "department_id", name=op.f("pk_helpdesk_agent_department")
        ),
    )
    op.create_table(
        "helpdesk_ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("creator_contact_id", sa.Integer(), nullable=True),
        sa.Column("creator_agent_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("notify_sms", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("first_response_at", sa.DateTime(), nullable=True),
        sa.Column("last_customer_reply_at", sa.DateTime(), nullable=True),
        sa.Column("last_agent_reply_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("customer_seen_at", sa.DateTime(), nullable=True),
        sa.Column("agent_seen_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_ticket_assignee_id_helpdesk_agent"),
        ),
        sa.ForeignKeyConstraint(
            ["creator_agent_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_ticket_creator_agent_id_helpdesk_agent"),
        ),
        sa.ForeignKeyConstraint(
            ["creator_contact_id"],
            ["helpdesk_contact.id"],
            name=op.f("fk_helpdesk_ticket_creator_contact_id_helpdesk_contact"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["helpdesk_department.id"],
            name=op.f("fk_helpdesk_ticket_department_id_helpdesk_department"),
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_ticket_merged_into_id_helpdesk_ticket"),
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["helpdesk_contact.id"],
            name=op.f("fk_helpdesk_ticket_requester_id_helpdesk_contact"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_ticket")),
        sa.UniqueConstraint("code", name=op.f("uq_helpdesk_ticket_code")),
    )
    op.create_index(
        "ix_helpdesk_ticket_assignee_status",
        "helpdesk_ticket",
        ["assignee_id", "status", "updated_at"],
    )
    op.create_index("ix_helpdesk_ticket_created", "helpdesk_ticket", ["created_at", "id"])
    op.create_index(
        op.f("ix_helpdesk_ticket_creator_agent_id"), "helpdesk_ticket", ["creator_agent_id"]
    )
    op.create_index(
        op.f("ix_helpdesk_ticket_creator_contact_id"), "helpdesk_ticket", ["creator_contact_id"]
    )
    op.create_index(
        "ix_helpdesk_ticket_department_status",
        "helpdesk_ticket",
        ["department_id", "status", "updated_at"],
    )
    op.create_index(
        "ix_helpdesk_ticket_requester_updated",
        "helpdesk_ticket",
        ["requester_id", "updated_at", "id"],
    )
    op.create_index(
        "ix_helpdesk_ticket_status_updated", "helpdesk_ticket", ["status", "updated_at", "id"]
    )
    op.create_table(
        "helpdesk_audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("actor_agent_id", sa.Integer(), nullable=True),
        sa.Column("actor_contact_id", sa.Integer(), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_agent_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_audit_event_actor_agent_id_helpdesk_agent"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["actor_contact_id"],
            ["helpdesk_contact.id"],
            name=op.f("fk_helpdesk_audit_event_actor_contact_id_helpdesk_contact"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_audit_event_ticket_id_helpdesk_ticket"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_audit_event")),
    )
    op.create_index(op.f("ix_helpdesk_audit_event_action"), "helpdesk_audit_event", ["action"])
    op.create_index(
        op.f("ix_helpdesk_audit_event_actor_agent_id"), "helpdesk_audit_event", ["actor_agent_id"]
    )
    op.create_index(
        op.f("ix_helpdesk_audit_event_actor_contact_id"),
        "helpdesk_audit_event",
        ["actor_contact_id"],
    )
    op.create_index(
        op.f("ix_helpdesk_audit_event_created_at"), "helpdesk_audit_event", ["created_at"]
    )
    op.create_index(
        "ix_helpdesk_audit_event_ticket_created",
        "helpdesk_audit_event",
        ["ticket_id", "created_at"],
    )
    op.create_table(
        "helpdesk_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("author_contact_id", sa.Integer(), nullable=True),
        sa.Column("author_agent_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("email_message_id", sa.String(length=255), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_agent_id"],
            ["helpdesk_agent.id"],
            name=op.f("fk_helpdesk_message_author_agent_id_helpdesk_agent"),
        ),
        sa.ForeignKeyConstraint(
            ["author_contact_id"],
            ["helpdesk_contact.id"],
            name=op.f("fk_helpdesk_message_author_contact_id_helpdesk_contact"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_message_ticket_id_helpdesk_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_message")),
        sa.UniqueConstraint("email_message_id", name=op.f("uq_helpdesk_message_email_message_id")),
    )
    op.create_index(
        "ix_helpdesk_message_ticket_created", "helpdesk_message", ["ticket_id", "created_at", "id"]
    )
    op.create_table(
        "helpdesk_rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["helpdesk_contact.id"],
            name=op.f("fk_helpdesk_rating_contact_id_helpdesk_contact"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_rating_ticket_id_helpdesk_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_rating")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_helpdesk_rating_ticket_id")),
    )
    op.create_table(
        "helpdesk_ticket_tag",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["helpdesk_tag.id"],
            name=op.f("fk_helpdesk_ticket_tag_tag_id_helpdesk_tag"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_ticket_tag_ticket_id_helpdesk_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", "tag_id", name=op.f("pk_helpdesk_ticket_tag")),
    )
    op.create_index("ix_helpdesk_ticket_tag_tag_id", "helpdesk_ticket_tag", ["tag_id"])
    op.create_table(
        "helpdesk_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["helpdesk_message.id"],
            name=op.f("fk_helpdesk_attachment_message_id_helpdesk_message"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_attachment_ticket_id_helpdesk_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_attachment")),
    )
    op.create_index(
        op.f("ix_helpdesk_attachment_message_id"), "helpdesk_attachment", ["message_id"]
    )
    op.create_index(op.f("ix_helpdesk_attachment_sha256"), "helpdesk_attachment", ["sha256"])
    op.create_index(op.f("ix_helpdesk_attachment_ticket_id"), "helpdesk_attachment", ["ticket_id"])


def downgrade() -> None:
    # Dropping a table drops its indexes; children before parents.
    op.drop_table("helpdesk_attachment")
    op.drop_table("helpdesk_ticket_tag")
    op.drop_table("helpdesk_rating")
    op.drop_table("helpdesk_message")
    op.drop_table("helpdesk_audit_event")
    op.drop_table("helpdesk_ticket")
    op.drop_table("helpdesk_agent_department")
    op.drop_table("helpdesk_tag")
    op.drop_table("helpdesk_department")
    op.drop_table("helpdesk_contact")
    op.drop_table("helpdesk_agent")
