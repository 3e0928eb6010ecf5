"""SQLModel tables: products, locations and stock per location, the stock ledger, idempotency keys and the
transactional outbox (the definitions; Alembic migrations create them, and the app reads them with SQL)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, SQLModel


class Product(SQLModel, table=True):
    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="ck_product_quantity_non_negative"),
        CheckConstraint("low_stock_threshold >= 0", name="ck_product_threshold_non_negative"),
        CheckConstraint("price >= 0", name="ck_product_price_non_negative"),
        Index("ix_product_name", "name"),
        Index("ix_product_category", "category"),
        Index("ix_product_quantity", "quantity"),
        Index("ix_product_price", "price"),
        Index("ix_product_updated_at", "updated_at"),
        Index("ix_product_low_stock", "id", postgresql_where=text("quantity <= low_stock_threshold")),
        Index(
            "ix_product_search_trgm",
            text("lower(sku || ' ' || name || ' ' || description) gin_trgm_ops"),
            postgresql_using="gin",
        ),
    )

    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    sku: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False, server_default=""))
    category: str = Field(sa_column=Column(String(100), nullable=False, server_default=""))
    price: Decimal = Field(sa_column=Column(Numeric(14, 2), nullable=False))
    quantity: int = Field(sa_column=Column(Integer, nullable=False))
    low_stock_threshold: int = Field(sa_column=Column(Integer, nullable=False))
    # True while a LowStockWarning has been emitted and stock has not recovered since.
    low_stock_alerted: bool = Field(default=False, nullable=False)
    version: int = Field(sa_column=Column(BigInteger, nullable=False))  # 64-bit (migration 0006)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class StockMovement(SQLModel, table=True):
    __tablename__ = "stock_movement"
    __table_args__ = (
        Index("ix_stock_movement_product_created", "product_id", "created_at"),
        Index("ix_stock_movement_location", "location_id"),
        Index("ix_stock_movement_transfer", "transfer_id", postgresql_where=text("transfer_id IS NOT NULL")),
    )

    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    # No foreign key (migration 0004): a deleted product's ledger, and who made it, stay readable.
    product_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    delta: int = Field(sa_column=Column(Integer, nullable=False))
    reason: str = Field(sa_column=Column(String(20), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    quantity_after: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # Who made the movement (the contract's Actor); NULL for rows from before sign-in existed.
    actor: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    # The location whose stock moved (migration 0008 put every older row in the default location).
    location_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), ForeignKey("location.id", ondelete="RESTRICT"))
    )
    location_quantity_after: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # Shared by the two rows of a transfer between locations.
    transfer_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True), nullable=True))


class Location(SQLModel, table=True):
    """A place that holds stock: a tree (warehouse / zone / shelf) by `parent_id`."""

    __tablename__ = "location"
    __table_args__ = (
        CheckConstraint("parent_id IS DISTINCT FROM id", name="ck_location_not_own_parent"),
        CheckConstraint("active OR NOT is_default", name="ck_location_default_active"),
        Index("ix_location_parent", "parent_id"),
        Index("ux_location_default", "is_default", unique=True, postgresql_where=text("is_default")),
    )

    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    code: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    parent_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), ForeignKey("location.id", ondelete="RESTRICT"))
    )
    active: bool = Field(sa_column=Column(Boolean, nullable=False, server_default=text("true")))
    is_default: bool = Field(sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    version: int = Field(sa_column=Column(BigInteger, nullable=False, server_default=text("1")))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()))


class StockLevel(SQLModel, table=True):
    """A product's quantity in one location; the product's `quantity` is the sum of its rows."""

    __tablename__ = "stock_level"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="ck_stock_level_quantity_non_negative"),
        CheckConstraint("min_quantity IS NULL OR min_quantity >= 0", name="ck_stock_level_minimum_non_negative"),
        Index("ix_stock_level_location", "location_id", postgresql_where=text("quantity > 0")),
    )

    product_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("product.id", ondelete="CASCADE"), primary_key=True)
    )
    location_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("location.id", ondelete="RESTRICT"), primary_key=True)
    )
    quantity: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("0")))
    # Below or at this, the location is low on the product (LocationLowStockWarning, crossing only).
    min_quantity: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    low_alerted: bool = Field(sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()))


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_key"
    __table_args__ = (Index("ix_idempotency_key_expires_at", "expires_at"),)

    scope: str = Field(sa_column=Column(String(100), primary_key=True))
    key: str = Field(sa_column=Column(String(200), primary_key=True))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    response_status: int = Field(sa_column=Column(Integer, nullable=False))
    response_body: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "id", postgresql_where=text("published_at IS NULL")),
        Index("ix_outbox_published_at", "published_at", postgresql_where=text("published_at IS NOT NULL")),
    )

    # A sequence gives the commit-ish order the relay publishes in.
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    event_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False, unique=True))
    aggregate_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    event_type: str = Field(sa_column=Column(String(100), nullable=False))
    payload: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()))
    published_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # Who made the change; the relay sends it as the ce_actor* headers (schemas/CHANGELOG.md).
    actor: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
