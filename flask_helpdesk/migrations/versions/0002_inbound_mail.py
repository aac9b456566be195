"""Inbound mail: the raw mail store, IMAP mailboxes, ticket participants (CC'd addresses).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:21:01.661961
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_mailbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("security", sa.String(length=20), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("password", sa.String(length=1024), nullable=False),
        sa.Column("folder", sa.String(length=255), nullable=False),
        sa.Column("processed_folder", sa.String(length=255), nullable=True),
        sa.Column("verify_tls", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("last_fetch_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["helpdesk_department.id"],
            name=op.f("fk_helpdesk_mailbox_department_id_helpdesk_department"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_mailbox")),
    )
    with op.batch_alter_table("helpdesk_mailbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_helpdesk_mailbox_address"), ["address"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_helpdesk_mailbox_department_id"), ["department_id"], unique=False
        )

    op.create_table(
        "helpdesk_ticket_participant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_ticket_participant_ticket_id_helpdesk_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_ticket_participant")),
        sa.UniqueConstraint(
            "ticket_id", "email", name=op.f("uq_helpdesk_ticket_participant_ticket_id")
        ),
    )
    with op.batch_alter_table("helpdesk_ticket_participant", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpdesk_ticket_participant_email"), ["email"], unique=False
        )

    op.create_table(
        "helpdesk_inbound_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=True),
        sa.Column("sender", sa.String(length=254), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("processed_at", sa.DateTime(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("posted_message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["helpdesk_department.id"],
            name=op.f("fk_helpdesk_inbound_mail_department_id_helpdesk_department"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["helpdesk_mailbox.id"],
            name=op.f("fk_helpdesk_inbound_mail_mailbox_id_helpdesk_mailbox"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["posted_message_id"],
            ["helpdesk_message.id"],
            name=op.f("fk_helpdesk_inbound_mail_posted_message_id_helpdesk_message"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["helpdesk_ticket.id"],
            name=op.f("fk_helpdesk_inbound_mail_ticket_id_helpdesk_ticket"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_inbound_mail")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_helpdesk_inbound_mail_dedup_key")),
    )
    with op.batch_alter_table("helpdesk_inbound_mail", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpdesk_inbound_mail_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_helpdesk_inbound_mail_mailbox_id"), ["mailbox_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_helpdesk_inbound_mail_posted_message_id"),
            ["posted_message_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_helpdesk_inbound_mail_sender_received", ["sender", "received_at"], unique=False
        )
        batch_op.create_index(
            "ix_helpdesk_inbound_mail_status_received", ["status", "received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_helpdesk_inbound_mail_ticket_id"), ["ticket_id"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("helpdesk_inbound_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpdesk_inbound_mail_ticket_id"))
        batch_op.drop_index("ix_helpdesk_inbound_mail_status_received")
        batch_op.drop_index("ix_helpdesk_inbound_mail_sender_received")
        batch_op.drop_index(batch_op.f("ix_helpdesk_inbound_mail_posted_message_id"))
        batch_op.drop_index(batch_op.f("ix_helpdesk_inbound_mail_mailbox_id"))
        batch_op.drop_index(batch_op.f("ix_helpdesk_inbound_mail_department_id"))

    op.drop_table("helpdesk_inbound_mail")
    with op.batch_alter_table("helpdesk_ticket_participant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpdesk_ticket_participant_email"))

    op.drop_table("helpdesk_ticket_participant")
    with op.batch_alter_table("helpdesk_mailbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpdesk_mailbox_department_id"))
        batch_op.drop_index(batch_op.f("ix_helpdesk_mailbox_address"))

    op.drop_table("helpdesk_mailbox")
