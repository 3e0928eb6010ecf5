"""identity and access: users, sessions, API tokens, the security log, and who made each change

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

The ledger stops cascading away with its product (a deleted product's ledger and "who deleted it"
stay readable), ledger rows and outbox rows name their actor, and a `credential_changes` notification
tells every app process to drop cached credentials when a session, token or user changes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE app_user (
            id uuid PRIMARY KEY,
            email varchar(254) NOT NULL UNIQUE,
            name varchar(200) NOT NULL DEFAULT '',
            role varchar(10) NOT NULL CONSTRAINT ck_app_user_role CHECK (role IN ('viewer', 'editor', 'admin')),
            password_hash text NOT NULL,
            disabled_at timestamptz,
            last_sign_in_at timestamptz,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            CONSTRAINT ck_app_user_email_lower CHECK (email = lower(email))
        );
        CREATE TABLE user_session (
            id uuid PRIMARY KEY,
            token_hash char(64) NOT NULL UNIQUE,
            user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
            created_at timestamptz NOT NULL,
            last_seen_at timestamptz NOT NULL,
            idle_expires_at timestamptz NOT NULL,
            expires_at timestamptz NOT NULL,
            revoked_at timestamptz,
            ip varchar(100),
            user_agent varchar(500)
        );
        CREATE INDEX ix_user_session_user ON user_session (user_id) WHERE revoked_at IS NULL;
        CREATE INDEX ix_user_session_expires ON user_session (expires_at);
        CREATE TABLE api_token (
            id uuid PRIMARY KEY,
            token_hash char(64) NOT NULL UNIQUE,
            prefix varchar(12) NOT NULL,
            user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
            name varchar(100) NOT NULL,
            created_at timestamptz NOT NULL,
            expires_at timestamptz,
            last_used_at timestamptz,
            revoked_at timestamptz
        );
        CREATE INDEX ix_api_token_user ON api_token (user_id, created_at);
        CREATE TABLE security_event (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            kind varchar(40) NOT NULL,
            user_id uuid,
            email varchar(254),
            actor jsonb,
            ip varchar(100),
            user_agent varchar(500),
            detail jsonb NOT NULL DEFAULT '{}'::jsonb
        );
        CREATE INDEX ix_security_event_at ON security_event (at);
        CREATE INDEX ix_security_event_failed_email ON security_event (email, at) WHERE kind = 'sign_in_failed';
        CREATE INDEX ix_security_event_failed_ip ON security_event (ip, at) WHERE kind = 'sign_in_failed';

        ALTER TABLE stock_movement DROP CONSTRAINT IF EXISTS stock_movement_product_id_fkey;
        ALTER TABLE stock_movement ADD COLUMN actor jsonb;
        ALTER TABLE outbox ADD COLUMN actor jsonb;
        """
    )
    # Any change that can end a credential (revocation, expiry moved, role change, disabling) is
    # announced; last-seen/last-used bookkeeping is not, so it does not flush every process's cache.
    op.execute(
        """
        CREATE FUNCTION credential_changes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('credential_changes', TG_TABLE_NAME);
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER user_session_credential_change AFTER UPDATE OF revoked_at, expires_at OR DELETE
            ON user_session FOR EACH STATEMENT EXECUTE FUNCTION credential_changes_notify();
        CREATE TRIGGER api_token_credential_change AFTER UPDATE OF revoked_at, expires_at OR DELETE
            ON api_token FOR EACH STATEMENT EXECUTE FUNCTION credential_changes_notify();
        CREATE TRIGGER app_user_credential_change AFTER UPDATE OF role, disabled_at, email, name OR DELETE
            ON app_user FOR EACH STATEMENT EXECUTE FUNCTION credential_changes_notify();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER IF EXISTS app_user_credential_change ON app_user;
        DROP TRIGGER IF EXISTS api_token_credential_change ON api_token;
        DROP TRIGGER IF EXISTS user_session_credential_change ON user_session;
        DROP FUNCTION IF EXISTS credential_changes_notify();
        ALTER TABLE outbox DROP COLUMN IF EXISTS actor;
        ALTER TABLE stock_movement DROP COLUMN IF EXISTS actor;
        DELETE FROM stock_movement m WHERE NOT EXISTS (SELECT 1 FROM product p WHERE p.id = m.product_id);
        ALTER TABLE stock_movement ADD CONSTRAINT stock_movement_product_id_fkey
            FOREIGN KEY (product_id) REFERENCES product (id) ON DELETE CASCADE;
        DROP TABLE IF EXISTS security_event;
        DROP TABLE IF EXISTS api_token;
        DROP TABLE IF EXISTS user_session;
        DROP TABLE IF EXISTS app_user;
        """
    )
