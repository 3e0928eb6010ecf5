"""analytics by location: each product's quantity per location, and movements per location and hour

Revision ID: 0009
Revises: 0008

Kept by the analytics worker from the stock events (backend_workers/analytics/by_location.py), and
backfilled here from the stock per location that migration 0008 made (everything in the default location
then), with no event replayed.
"""

from __future__ import annotations

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE analytics_location_stock (
            product_id uuid NOT NULL,
            location_id uuid NOT NULL,
            quantity integer NOT NULL,
            PRIMARY KEY (product_id, location_id)
        );
        CREATE INDEX ix_analytics_location_stock_location ON analytics_location_stock (location_id);
        CREATE TABLE analytics_location_movements_hourly (
            location_id uuid NOT NULL,
            hour timestamptz NOT NULL,
            count integer NOT NULL,
            PRIMARY KEY (location_id, hour)
        );
        CREATE INDEX ix_analytics_location_movements_hour ON analytics_location_movements_hourly (hour);
        INSERT INTO analytics_location_stock (product_id, location_id, quantity)
            SELECT product_id, location_id, quantity FROM stock_level;
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE analytics_location_movements_hourly; DROP TABLE analytics_location_stock;")
