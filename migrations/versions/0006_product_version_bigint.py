"""product.version becomes 64-bit (bigint), like the If-Match pattern of the contract

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE product ALTER COLUMN version TYPE bigint")


def downgrade() -> None:
    op.execute("ALTER TABLE product ALTER COLUMN version TYPE integer")
