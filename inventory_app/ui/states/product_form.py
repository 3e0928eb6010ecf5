"""Create/edit, delete and stock-adjust forms: each submit calls one service use case and shows its errors."""

from __future__ import annotations

from typing import Any

import reflex as rx

from inventory_app.domain.errors import (
    DomainError,
    DuplicateSku,
    InsufficientStock,
    ProductNotFound,
    VersionConflict,
)
from inventory_app.services import products, stock
from inventory_app.ui.states.feedback import field_messages, int_or_text
from inventory_app.ui.states.locations import ProductStockState, active_options
from inventory_app.ui.states.product_detail import ProductDetailState
from inventory_app.ui.states.products import ProductsState
from inventory_app.ui.states.session import signed_in_principal

FORM_FIELDS = ("sku", "name", "description", "category", "price", "quantity", "low_stock_threshold")
ADJUST_FIELDS = ("delta", "reason", "note", "location_id")
CONFLICT_MESSAGE = "This product was changed by someone else."


def _form_values(product: dict[str, Any] | None) -> dict[str, str]:
    if product is None:
        return dict.fromkeys(FORM_FIELDS, "") | {"quantity": "0", "low_stock_threshold": "0"}
    return {name: str(product[name]) for name in FORM_FIELDS}


class ProductFormState(rx.State):
    """One dialog for create and edit; edit carries the version it was opened at."""

    is_open: bool = False
    is_edit: bool = False
    product_id: str = ""
    version: int = 0
    values: dict[str, str] = _form_values(None)
    field_errors: dict[str, str] = dict.fromkeys(FORM_FIELDS, "")
    form_error: str = ""
    conflict: bool = False
    saving: bool = False
    # Bumped to remount the uncontrolled inputs with new default values.
    form_key: int = 0

    def _reset_feedback(self) -> None:
        self.field_errors = dict.fromkeys(FORM_FIELDS, "")
        self.form_error = ""
        self.conflict = False

    def _show(self, product: dict[str, Any] | None) -> None:
        self.values = _form_values(product)
        self.version = product["version"] if product else 0
        self.form_key += 1

    @rx.event
    def open_create(self):
        self.is_edit = False
        self.product_id = ""
        self._reset_feedback()
        self._show(None)
        self.is_open = True

    @rx.event
    async def open_edit(self, product_id: str):
        self.is_edit = True
        self.product_id = product_id
        self._reset_feedback()
        try:
            self._show(await products.get_product(product_id))
        except ProductNotFound as error:
            self.form_error = error.detail
        self.is_open = True

    @rx.event
    def set_is_open(self, value: bool):
        self.is_open = value

    @rx.event
    async def reload_latest(self):
        """After a conflict: show the product as it is now, so the user can redo the edit on top of it."""
        try:
            self._show(await products.get_product(self.product_id))
            self._reset_feedback()
        except ProductNotFound as error:
            self.conflict = False
            self.form_error = error.detail

    def _payload(self, form_data: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "sku": form_data.get("sku", ""),
            "name": form_data.get("name", ""),
            "description": form_data.get("description", ""),
            "category": form_data.get("category", ""),
            "price": form_data.get("price", "").strip(),
        }
        # Empty number boxes mean "not given": the service applies its default (create) or keeps the value (edit).
        numbers = ("low_stock_threshold",) if self.is_edit else ("quantity", "low_stock_threshold")
        for name in numbers:
            text = str(form_data.get(name, "")).strip()
            if text:
                payload[name] = int_or_text(text)
        return payload

    @rx.event
    async def submit(self, form_data: dict[str, Any]):
        self._reset_feedback()
        self.saving = True
        yield
        payload = self._payload(form_data)
        try:
            by = await signed_in_principal(self)
            if self.is_edit:
                await products.update_product(self.product_id, payload, by=by, expected_version=self.version)
            else:
                await products.create_product(payload, by=by)
        except VersionConflict:
            self.conflict = True
            self.form_error = CONFLICT_MESSAGE
        except DuplicateSku as error:
            self.field_errors, _ = field_messages(error, FORM_FIELDS)
            self.field_errors["sku"] = error.detail
        except DomainError as error:
            self.field_errors, self.form_error = field_messages(error, FORM_FIELDS)
        else:
            self.is_open = False
            self.saving = False
            yield rx.toast.success("Product saved.")
            yield ProductsState.refresh_with_categories
            yield ProductDetailState.refresh
            return
        self.saving = False


class DeleteProductState(rx.State):
    """The confirmation dialog; deletes only the version the user saw."""

    is_open: bool = False
    product_id: str = ""
    sku: str = ""
    version: int = 0
    error: str = ""
    deleting: bool = False

    @rx.event
    def ask(self, product_id: str, sku: str, version: int):
        self.product_id, self.sku, self.version = product_id, sku, version
        self.error = ""
        self.is_open = True

    @rx.event
    def set_is_open(self, value: bool):
        self.is_open = value

    @rx.event
    async def confirm(self):
        self.deleting = True
        self.error = ""
        yield
        try:
            by = await signed_in_principal(self)
            await products.delete_product(self.product_id, by=by, expected_version=self.version)
        except VersionConflict:
            # Take the new version so a second, informed confirm can go through.
            latest = await products.get_product(self.product_id)
            self.version = latest["version"]
            self.error = f"{CONFLICT_MESSAGE} Check it and confirm again."
        except DomainError as error:
            self.error = error.detail
        else:
            self.is_open = False
            yield rx.toast.success(f"Deleted {self.sku}.")
            yield ProductsState.refresh_with_categories
        self.deleting = False


class AdjustStockState(rx.State):
    """Records one stock movement and shows the resulting quantity."""

    is_open: bool = False
    product_id: str = ""
    sku: str = ""
    quantity: int = 0
    result: str = ""
    field_errors: dict[str, str] = dict.fromkeys(ADJUST_FIELDS, "")
    form_error: str = ""
    saving: bool = False
    form_key: int = 0
    locations: list[list[str]] = []  # [id, label] of the active locations

    @rx.event
    async def open_for(self, product_id: str, sku: str, quantity: int):
        self.product_id, self.sku, self.quantity = product_id, sku, quantity
        self.locations = await active_options()
        self.result = ""
        self.field_errors = dict.fromkeys(ADJUST_FIELDS, "")
        self.form_error = ""
        self.form_key += 1
        self.is_open = True

    @rx.event
    def set_is_open(self, value: bool):
        self.is_open = value

    @rx.event
    async def submit(self, form_data: dict[str, Any]):
        self.field_errors = dict.fromkeys(ADJUST_FIELDS, "")
        self.form_error = ""
        self.result = ""
        self.saving = True
        yield
        note = str(form_data.get("note", "")).strip()
        payload: dict[str, Any] = {
            "delta": int_or_text(str(form_data.get("delta", ""))),
            "reason": form_data.get("reason", ""),
        }
        if note:
            payload["note"] = note
        if form_data.get("location_id"):
            payload["location_id"] = form_data["location_id"]
        try:
            result = await stock.adjust_stock(self.product_id, payload, by=await signed_in_principal(self))
        except InsufficientStock as error:
            self.field_errors, _ = field_messages(error, ADJUST_FIELDS)
            self.field_errors["delta"] = error.detail
        except DomainError as error:
            self.field_errors, self.form_error = field_messages(error, ADJUST_FIELDS)
        else:
            self.quantity = result.body["product"]["quantity"]
            self.result = f"Quantity now {self.quantity}"
            self.form_key += 1
            self.saving = False
            yield ProductsState.refresh
            yield ProductDetailState.refresh
            yield ProductStockState.load_for(self.product_id)
            return
        self.saving = False
