"""change triggers stay quiet for sessions that announce their own commits (the app's pool)

Revision ID: 0010
Revises: 0009

A NOTIFY inside a transaction makes its commit take a database-wide lock that is held until the commit is
flushed, so every writing transaction that notifies commits one at a time. The product, stock level and
outbox triggers put a NOTIFY in every adjustment: pgbench of the adjustment's statements ran at about two
thirds of the same statements without the triggers (bench/NOTES.md, issue #14).

The app's pool sessions set `inventory.notify_after_commit = on` and send the same notifications right
after their commits, coalesced across concurrent commits (inventory_app/adapters/commit_notices.py). The
triggers still fire for every other writer (a psql session, a script on its own connection), so any
committed change still reaches every read cache and wakes the relay.
"""

from __future__ import annotations

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels = None
depends_on = None

# The app's sessions announce their own commits; every other session's writes are announced by the triggers.
QUIET = "(current_setting('inventory.notify_after_commit', true) IS DISTINCT FROM 'on')"
# (trigger, table, events, row or statement, function): the triggers of migrations 0003, 0008 and 0001.
TRIGGERS = (
    ("product_after_change", "product", "AFTER INSERT OR UPDATE OR DELETE", "FOR EACH ROW", "product_changes_notify"),
    (
        "stock_level_after_change",
        "stock_level",
        "AFTER INSERT OR UPDATE OR DELETE",
        "FOR EACH ROW",
        "stock_level_changes_notify",
    ),
    ("outbox_after_insert", "outbox", "AFTER INSERT", "FOR EACH STATEMENT", "outbox_notify"),
)


def _recreate(when: str) -> None:
    for name, table, event, level, function in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute(f"CREATE TRIGGER {name} {event} ON {table} {level} {when} EXECUTE FUNCTION {function}()")


def upgrade() -> None:
    _recreate(f"WHEN {QUIET}")


def downgrade() -> None:
    _recreate("")
