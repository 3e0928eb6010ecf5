"""outbox_quarantine: events the broker kept refusing, set aside so the events behind them keep flowing

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE outbox_quarantine (
            id bigint PRIMARY KEY,
            event_id uuid NOT NULL UNIQUE,
            aggregate_id uuid NOT NULL,
            event_type varchar(100) NOT NULL,
            payload jsonb NOT NULL,
            actor jsonb,
            created_at timestamptz NOT NULL,
            quarantined_at timestamptz NOT NULL DEFAULT now(),
            reason text NOT NULL
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS outbox_quarantine")
