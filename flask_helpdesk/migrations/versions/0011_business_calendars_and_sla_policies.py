"""Business calendars (zone, weekly windows, holidays) and SLA policies.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 02:07:33.952912
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_business_calendar",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("holiday_country", sa.String(length=8), nullable=True),
        sa.Column("holiday_subdivision", sa.String(length=16), nullable=True),
        sa.Column("ical_url", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_business_calendar")),
        sa.UniqueConstraint("name", name=op.f("uq_helpdesk_business_calendar_name")),
    )
    op.create_table(
        "helpdesk_calendar_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_minute", sa.SmallInteger(), nullable=False),
        sa.Column("end_minute", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["helpdesk_business_calendar.id"],
            name=op.f("fk_helpdesk_calendar_window_calendar_id_helpdesk_business_calendar"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_calendar_window")),
    )
    with op.batch_alter_table("helpdesk_calendar_window", schema=None) as batch_op:
        batch_op.create_index(
            "ix_helpdesk_calendar_window_calendar",
            ["calendar_id", "weekday", "start_minute"],
            unique=False,
        )

    op.create_table(
        "helpdesk_holiday",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["helpdesk_business_calendar.id"],
            name=op.f("fk_helpdesk_holiday_calendar_id_helpdesk_business_calendar"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_holiday")),
        sa.UniqueConstraint("calendar_id", "day", name=op.f("uq_helpdesk_holiday_calendar_id")),
    )
    op.create_table(
        "helpdesk_sla_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=True),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("next_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("after_hours_first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("warn_before_minutes", sa.Integer(), nullable=False),
        sa.Column("notify_outside_hours", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["helpdesk_business_calendar.id"],
            name=op.f("fk_helpdesk_sla_policy_calendar_id_helpdesk_business_calendar"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_sla_policy")),
        sa.UniqueConstraint("name", name=op.f("uq_helpdesk_sla_policy_name")),
    )
    with op.batch_alter_table("helpdesk_sla_policy", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpdesk_sla_policy_calendar_id"), ["calendar_id"], unique=False
        )
        batch_op.create_index(
            "ix_helpdesk_sla_policy_one_default",
            ["is_default"],
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
        batch_op.create_index("ix_helpdesk_sla_policy_position", ["position", "id"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("helpdesk_sla_policy", schema=None) as batch_op:
        batch_op.drop_index("ix_helpdesk_sla_policy_position")
        batch_op.drop_index(
            "ix_helpdesk_sla_policy_one_default",
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
        batch_op.drop_index(batch_op.f("ix_helpdesk_sla_policy_calendar_id"))

    op.drop_table("helpdesk_sla_policy")
    op.drop_table("helpdesk_holiday")
    with op.batch_alter_table("helpdesk_calendar_window", schema=None) as batch_op:
        batch_op.drop_index("ix_helpdesk_calendar_window_calendar")

    op.drop_table("helpdesk_calendar_window")
    op.drop_table("helpdesk_business_calendar")
