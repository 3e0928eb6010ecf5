"""stock by location: a tree of locations, stock per product and location, ledger rows that name them

Revision ID: 0008
Revises: 0007

Today's quantities move into one default location (code DEFAULT), each product's whole quantity, with
no event replayed and nothing lost: `product.quantity` stays the total and equals the sum of its
`stock_level` rows. Every existing ledger row is recorded as a movement of the default location.
"""

from __future__ import annotations

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE location (
            id uuid PRIMARY KEY,
            code varchar(64) NOT NULL UNIQUE,
            name varchar(200) NOT NULL,
            parent_id uuid REFERENCES location (id) ON DELETE RESTRICT,
            active boolean NOT NULL DEFAULT true,
            is_default boolean NOT NULL DEFAULT false,
            version bigint NOT NULL DEFAULT 1,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_location_not_own_parent CHECK (parent_id IS DISTINCT FROM id),
            CONSTRAINT ck_location_default_active CHECK (active OR NOT is_default)
        );
        CREATE INDEX ix_location_parent ON location (parent_id);
        -- Exactly one default location: where stock goes when a request names none.
        CREATE UNIQUE INDEX ux_location_default ON location (is_default) WHERE is_default;

        CREATE TABLE stock_level (
            product_id uuid NOT NULL REFERENCES product (id) ON DELETE CASCADE,
            location_id uuid NOT NULL REFERENCES location (id) ON DELETE RESTRICT,
            quantity integer NOT NULL DEFAULT 0,
            min_quantity integer,
            low_alerted boolean NOT NULL DEFAULT false,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (product_id, location_id),
            CONSTRAINT ck_stock_level_quantity_non_negative CHECK (quantity >= 0),
            CONSTRAINT ck_stock_level_minimum_non_negative CHECK (min_quantity IS NULL OR min_quantity >= 0)
        );
        CREATE INDEX ix_stock_level_location ON stock_level (location_id) WHERE quantity > 0;

        ALTER TABLE stock_movement
            ADD COLUMN location_id uuid REFERENCES location (id) ON DELETE RESTRICT,
            ADD COLUMN location_quantity_after integer,
            ADD COLUMN transfer_id uuid;
        CREATE INDEX ix_stock_movement_location ON stock_movement (location_id);
        CREATE INDEX ix_stock_movement_transfer ON stock_movement (transfer_id) WHERE transfer_id IS NOT NULL;

        INSERT INTO location (id, code, name, is_default) VALUES (gen_random_uuid(), 'DEFAULT', 'Default location', true);
        INSERT INTO stock_level (product_id, location_id, quantity, updated_at)
            SELECT p.id, l.id, p.quantity, p.updated_at FROM product p, location l WHERE l.is_default AND p.quantity > 0;
        UPDATE stock_movement SET location_id = (SELECT id FROM location WHERE is_default);
        """
    )
    # A transfer changes no product row, yet it changes what a location-filtered product list shows: every
    # process's read cache hears of it on the product channel, like any product change.
    op.execute(
        """
        CREATE FUNCTION stock_level_changes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('product_changes', COALESCE(NEW.product_id, OLD.product_id)::text);
            RETURN NULL;
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER stock_level_after_change AFTER INSERT OR UPDATE OR DELETE ON stock_level "
        "FOR EACH ROW EXECUTE FUNCTION stock_level_changes_notify()"
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER IF EXISTS stock_level_after_change ON stock_level;
        DROP FUNCTION IF EXISTS stock_level_changes_notify();
        ALTER TABLE stock_movement DROP COLUMN transfer_id, DROP COLUMN location_quantity_after,
            DROP COLUMN location_id;
        DROP TABLE stock_level;
        DROP TABLE location;
        """
    )
