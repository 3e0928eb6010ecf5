"""Routes whose contract exists but whose implementation lands in a later issue: they answer 501."""

from __future__ import annotations

from fastapi import APIRouter

from inventory_app.api.errors import ProblemError

router = APIRouter(prefix="/api", tags=["pending"])

# operationId → the issue that implements it; the contract test names these as pending.
PENDING_OPERATIONS: dict[str, str] = {}


def _not_yet(operation: str) -> ProblemError:
    return ProblemError(501, "not-implemented", "Not implemented", f"{operation} is not implemented yet.")
