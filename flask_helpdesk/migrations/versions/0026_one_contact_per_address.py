"""One email-only contact per address: merge existing duplicates, then a unique index.

Two workers that took mail from a new sender at the same moment could each create a contact
for that address. The duplicates are merged into the oldest contact of each address (compared
case-insensitively): every row that points at a duplicate (tickets, messages, ratings, audit
events, access grants, deflections, whatever references the contact table) is pointed at the
kept one, its empty fields are filled from the duplicates, agents' notes are joined and custom
attributes merged (the kept contact's values win), and the duplicates are deleted. Contacts
mirroring host users (``user_id`` set) are left as they are.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 09:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTACT = "helpdesk_contact"
INDEX = "ux_helpdesk_contact_email_only"
contact = sa.table(
    CONTACT,
    sa.column("id"),
    sa.column("email"),
    sa.column("user_id"),
    sa.column("name"),
    sa.column("phone"),
    sa.column("locale"),
    sa.column("notes"),
    sa.column("attributes", sa.JSON),  # decoded on SQLite too
)


def _references(bind) -> list[tuple[str, str]]:
    """Every (table, column) with a foreign key to the contact's id."""
    inspector = sa.inspect(bind)
    found = []
    for table in inspector.get_table_names():
        for key in inspector.get_foreign_keys(table):
            if key["referred_table"] == CONTACT and key["referred_columns"] == ["id"]:
                found.extend((table, column) for column in key["constrained_columns"])
    return found


def _attributes(value) -> dict:
    return value if isinstance(value, dict) else {}


def _merge(bind, rows, references) -> None:
    keep, *others = rows  # oldest first
    other_ids = [row.id for row in others]
    for table, column in references:
        target = sa.table(table, sa.column(column))
        bind.execute(
            target.update()
            .where(target.c[column].in_(other_ids))
            .values({column: keep.id})
        )
    values = {}
    for field in ("name", "phone", "locale"):
        if not getattr(keep, field):
            values[field] = next((getattr(r, field) for r in others if getattr(r, field)), None)
    notes = [keep.notes] + [r.notes for r in others if r.notes and r.notes != keep.notes]
    values["notes"] = "\n\n".join(n for n in notes if n)
    attributes: dict = {}
    for row in reversed(rows):  # the kept contact's values last: they win
        attributes.update(_attributes(row.attributes))
    values["attributes"] = attributes
    values = {k: v for k, v in values.items() if v is not None}
    bind.execute(contact.update().where(contact.c.id == keep.id).values(values))
    bind.execute(contact.delete().where(contact.c.id.in_(other_ids)))


def upgrade() -> None:
    if not context.is_offline_mode():  # the merge reads the data: run this revision online
        _merge_duplicates(op.get_bind())
    op.create_index(
        INDEX,
        CONTACT,
        [sa.text("lower(email)")],
        unique=True,
        sqlite_where=sa.text("user_id IS NULL"),
        postgresql_where=sa.text("user_id IS NULL"),
    )


def _merge_duplicates(bind) -> None:
    duplicated = bind.execute(
        sa.text(
            f"SELECT lower(email) FROM {CONTACT} WHERE user_id IS NULL AND email IS NOT NULL "
            "GROUP BY lower(email) HAVING count(*) > 1"
        )
    ).scalars()
    duplicated = list(duplicated)
    if duplicated:
        references = _references(bind)
        for address in duplicated:
            rows = bind.execute(
                sa.select(contact)
                .where(contact.c.user_id.is_(None), sa.func.lower(contact.c.email) == address)
                .order_by(contact.c.id)
            ).all()
            _merge(bind, rows, references)


def downgrade() -> None:
    op.drop_index(INDEX, table_name=CONTACT)
