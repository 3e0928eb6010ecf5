"""The product API's shapes as types: what the services return and what the routes send.

TypedDicts, not model classes: a product read is built as a dict and handed to orjson, so typing it costs
nothing at run time, while type checkers and `tests/contract/test_typed_edges.py` hold every field to the
contract (`openapi/openapi.yaml`: ProductPublic, ProductsPublic, StockMovement, StockMovementsPublic,
StockAdjustmentResult, Actor, and for locations LocationPublic, LocationsPublic, StockLevel, ProductStock,
TransferResult). The request side is typed where it is validated: `ProductFields` and
`AdjustmentRequest` (domain/model.py), checked against ProductCreate, ProductUpdate and StockAdjustmentCreate.
"""

from __future__ import annotations

from typing import Literal, NotRequired

# typing_extensions: pydantic (the contract test) reads TypedDicts on Python 3.11 only from there.
from typing_extensions import TypedDict

MovementReason = Literal["received", "sold", "damaged", "returned", "correction", "transfer"]


class ActorView(TypedDict):
    type: Literal["user", "token", "system"]
    id: str | None
    name: str


class ProductView(TypedDict):
    id: str
    sku: str
    name: str
    description: str
    category: str
    price: str  # a decimal string: the contract never sends money as a float
    quantity: int
    low_stock_threshold: int
    low_stock: bool
    version: int
    created_at: str
    updated_at: str


class ProductsPage(TypedDict):
    data: list[ProductView]
    count: int
    count_estimated: bool


class MovementView(TypedDict):
    id: str
    product_id: str
    delta: int
    reason: MovementReason
    note: str | None
    quantity_after: int  # the product's total after the row
    created_at: str
    actor: ActorView | None
    # Added with locations (always sent now; optional in the contract, as older examples lack them).
    location_id: NotRequired[str | None]
    location_code: NotRequired[str | None]
    location_quantity_after: NotRequired[int | None]
    transfer_id: NotRequired[str | None]


class MovementsPage(TypedDict):
    data: list[MovementView]
    count: int


class AdjustmentResult(TypedDict):
    movement: MovementView
    product: ProductView


class StockLevelView(TypedDict):
    location_id: str
    code: str
    name: str
    path: str
    active: bool
    is_default: bool
    quantity: int
    min_quantity: int | None
    low: bool


class ProductStock(TypedDict):
    product_id: str
    sku: str
    total: int
    data: list[StockLevelView]


class TransferResult(TypedDict):
    transfer_id: str
    movements: list[MovementView]
    stock: ProductStock


class LocationView(TypedDict):
    id: str
    code: str
    name: str
    parent_id: str | None
    path: str
    depth: int
    active: bool
    is_default: bool
    version: int
    created_at: str
    updated_at: str


class LocationsPage(TypedDict):
    data: list[LocationView]
    count: int
