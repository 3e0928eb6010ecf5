"""analytics_product_state.version becomes 64-bit too: a product past version 2^31 was dead-lettered by analytics

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE analytics_product_state ALTER COLUMN version TYPE bigint")


def downgrade() -> None:
    op.execute("ALTER TABLE analytics_product_state ALTER COLUMN version TYPE integer")
