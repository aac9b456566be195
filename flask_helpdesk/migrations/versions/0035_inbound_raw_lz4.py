"""PostgreSQL: an inbound mail's raw bytes are compressed with LZ4 instead of pglz
(``models/mail.py``, ``PG_RAW_LZ4``): half the server CPU of storing a mail. Mail stored
before keeps its pglz compression (PostgreSQL reads both); a server built without LZ4, or
before PostgreSQL 14, keeps pglz. SQLite: nothing to do. The downgrade goes back to the
server's default.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A copy of models/mail.py PG_RAW_LZ4 (revisions import no application code).
RAW_LZ4 = """DO $$ BEGIN
    EXECUTE 'ALTER TABLE helpdesk_inbound_mail ALTER COLUMN raw SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error THEN NULL;
END $$"""
RAW_DEFAULT = """DO $$ BEGIN
    EXECUTE 'ALTER TABLE helpdesk_inbound_mail ALTER COLUMN raw SET COMPRESSION default';
EXCEPTION WHEN feature_not_supported OR syntax_error THEN NULL;
END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(RAW_LZ4)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(RAW_DEFAULT)
