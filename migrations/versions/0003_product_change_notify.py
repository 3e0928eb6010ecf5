"""notify `product_changes` with the product id on every committed product change

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

The app's read cache listens on this channel: a change made by any process (another app worker, a
psql session) reaches every cache once committed. Row level, so the payload names the product.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION product_changes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('product_changes', COALESCE(NEW.id, OLD.id)::text);
            RETURN NULL;
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER product_after_change AFTER INSERT OR UPDATE OR DELETE ON product "
        "FOR EACH ROW EXECUTE FUNCTION product_changes_notify()"
    )
    # TRUNCATE has no rows: announce it with an empty payload, which means "everything changed".
    op.execute(
        """
        CREATE FUNCTION product_truncate_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('product_changes', '');
            RETURN NULL;
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER product_after_truncate AFTER TRUNCATE ON product "
        "FOR EACH STATEMENT EXECUTE FUNCTION product_truncate_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS product_after_truncate ON product")
    op.execute("DROP FUNCTION IF EXISTS product_truncate_notify()")
    op.execute("DROP TRIGGER IF EXISTS product_after_change ON product")
    op.execute("DROP FUNCTION IF EXISTS product_changes_notify()")
