"""analytics aggregates kept by the analytics worker

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE analytics_processed_event (
            event_id uuid PRIMARY KEY,
            event_type varchar(100) NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_analytics_processed_event_at ON analytics_processed_event (processed_at);
        CREATE TABLE analytics_events_per_minute (
            minute timestamptz NOT NULL,
            event_type varchar(100) NOT NULL,
            count integer NOT NULL,
            PRIMARY KEY (minute, event_type)
        );
        CREATE TABLE analytics_product_state (
            product_id uuid PRIMARY KEY,
            sku varchar(64) NOT NULL,
            name varchar(200) NOT NULL,
            category varchar(100) NOT NULL,
            price numeric(14, 2) NOT NULL,
            quantity integer NOT NULL,
            low_stock_threshold integer NOT NULL,
            version integer NOT NULL,
            deleted boolean NOT NULL DEFAULT false
        );
        CREATE INDEX ix_analytics_product_state_category ON analytics_product_state (category) WHERE NOT deleted;
        CREATE TABLE analytics_adjustments_hourly (
            product_id uuid NOT NULL,
            hour timestamptz NOT NULL,
            count integer NOT NULL,
            PRIMARY KEY (product_id, hour)
        );
        CREATE INDEX ix_analytics_adjustments_hourly_hour ON analytics_adjustments_hourly (hour);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE analytics_adjustments_hourly;
        DROP TABLE analytics_product_state;
        DROP TABLE analytics_events_per_minute;
        DROP TABLE analytics_processed_event;
        """
    )
