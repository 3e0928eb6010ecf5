"""The locations page and a product's stock by location: each handler calls one service use case, which
checks the caller's role again (the hidden buttons are a courtesy, not the permission)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx

from inventory_app.domain.errors import DomainError
from inventory_app.services import locations, stock
from inventory_app.ui.states.feedback import field_messages, int_or_text
from inventory_app.ui.states.product_detail import ProductDetailState
from inventory_app.ui.states.session import signed_in_principal

LOCATION_FIELDS = ("code", "name", "parent_id")
TRANSFER_FIELDS = ("from_location_id", "to_location_id", "quantity", "note")


@dataclass
class LocationRow:
    id: str = ""
    code: str = ""
    name: str = ""
    path: str = ""
    indent: str = "0em"
    active: bool = True
    is_default: bool = False


@dataclass
class LevelRow:
    location_id: str = ""
    code: str = ""
    path: str = ""
    quantity: int = 0
    minimum: str = ""
    low: bool = False
    label: str = ""  # for the transfer's source select: "MAIN — 5 available"


def location_row(view: dict[str, Any]) -> LocationRow:
    return LocationRow(
        view["id"],
        view["code"],
        view["name"],
        view["path"],
        f"{view['depth'] * 1.5}em",
        view["active"],
        view["is_default"],
    )


async def active_options() -> list[list[str]]:
    """[id, "CODE — path"] of every active location, tree order: the destinations a stock change may name."""
    tree = await locations.list_locations(active=True)
    return [[view["id"], f"{view['code']} — {view['path']}"] for view in tree["data"]]


class LocationsState(rx.State):
    rows: list[LocationRow] = []
    field_errors: dict[str, str] = dict.fromkeys(LOCATION_FIELDS, "")
    form_error: str = ""
    row_error: str = ""
    form_key: int = 0

    @rx.var
    def parent_options(self) -> list[list[str]]:
        return [[row.id, f"{row.code} — {row.path}"] for row in self.rows if row.active]

    @rx.event
    async def load(self):
        self.rows = [location_row(view) for view in (await locations.list_locations())["data"]]

    @rx.event
    async def create(self, form_data: dict[str, Any]):
        self.field_errors, self.form_error = dict.fromkeys(LOCATION_FIELDS, ""), ""
        payload = {"code": form_data.get("code", ""), "name": form_data.get("name", "")}
        if form_data.get("parent_id"):
            payload["parent_id"] = form_data["parent_id"]
        try:
            await locations.create_location(payload, by=await signed_in_principal(self))
        except DomainError as error:
            self.field_errors, self.form_error = field_messages(error, LOCATION_FIELDS)
            return
        self.form_key += 1
        await self.load()

    @rx.event
    async def set_active(self, location_id: str, active: bool):
        await self._change(locations.update_location, location_id, {"active": active})

    @rx.event
    async def delete(self, location_id: str):
        await self._change(locations.delete_location, location_id)

    async def _change(self, use_case, location_id: str, *payload: dict[str, Any]) -> None:
        self.row_error = ""
        try:
            await use_case(location_id, *payload, by=await signed_in_principal(self))
        except DomainError as error:
            self.row_error = error.detail
        await self.load()


class ProductStockState(rx.State):
    """The product page's stock by location, its minimums and the transfer dialog."""

    product_id: str = ""
    sku: str = ""
    total: int = 0
    levels: list[LevelRow] = []
    destinations: list[list[str]] = []
    error: str = ""
    transfer_open: bool = False
    transfer_errors: dict[str, str] = dict.fromkeys(TRANSFER_FIELDS, "")
    transfer_error: str = ""
    transfer_result: str = ""
    form_key: int = 0

    @rx.var
    def sources(self) -> list[list[str]]:
        return [[row.location_id, row.label] for row in self.levels if row.quantity > 0]

    @rx.event
    async def load_for(self, product_id: str):
        self.product_id = product_id
        await self._fetch()

    async def _fetch(self) -> None:
        if not self.product_id:
            return
        try:
            view = await stock.product_stock(self.product_id)
        except DomainError as error:
            self.levels, self.error = [], error.detail
            return
        self.sku, self.total, self.error = view["sku"], view["total"], ""
        self.levels = [
            LevelRow(
                lv["location_id"],
                lv["code"],
                lv["path"],
                lv["quantity"],
                "" if lv["min_quantity"] is None else str(lv["min_quantity"]),
                lv["low"],
                f"{lv['code']} — {lv['quantity']} available",
            )
            for lv in view["data"]
        ]
        self.destinations = await active_options()

    @rx.event
    async def set_minimum(self, form_data: dict[str, Any]):
        text = str(form_data.get("min_quantity", "")).strip()
        payload = {"min_quantity": None if text == "" else int_or_text(text)}
        try:
            await stock.set_minimum(
                self.product_id, form_data.get("location_id", ""), payload, by=await signed_in_principal(self)
            )
        except DomainError as error:
            self.error = error.detail
            return
        await self._fetch()

    @rx.event
    def open_transfer(self):
        self.transfer_errors, self.transfer_error, self.transfer_result = dict.fromkeys(TRANSFER_FIELDS, ""), "", ""
        self.form_key += 1
        self.transfer_open = True

    @rx.event
    def set_transfer_open(self, value: bool):
        self.transfer_open = value

    @rx.event
    async def transfer(self, form_data: dict[str, Any]):
        self.transfer_errors, self.transfer_error = dict.fromkeys(TRANSFER_FIELDS, ""), ""
        payload: dict[str, Any] = {
            "from_location_id": form_data.get("from_location_id") or None,
            "to_location_id": form_data.get("to_location_id") or None,
            "quantity": int_or_text(str(form_data.get("quantity", ""))),
        }
        if str(form_data.get("note", "")).strip():
            payload["note"] = str(form_data["note"]).strip()
        try:
            result = await stock.transfer_stock(self.product_id, payload, by=await signed_in_principal(self))
        except DomainError as error:
            self.transfer_errors, self.transfer_error = field_messages(error, TRANSFER_FIELDS)
            return
        out, into = result.body["movements"]
        self.transfer_result = f"Moved {into['delta']} from {out['location_code']} to {into['location_code']}"
        self.form_key += 1
        await self._fetch()
        yield ProductDetailState.refresh
