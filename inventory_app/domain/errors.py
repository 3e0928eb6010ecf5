"""Domain errors: one type per failure a user can cause, mapped to HTTP in `api/errors.py`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldError:
    field: str
    message: str
    row: int | None = None  # the CSV line, for an error in an imported file


class DomainError(Exception):
    """Base class; `errors` names the offending fields where there are any."""

    title = "Request failed"

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class ValidationFailed(DomainError):
    title = "Validation failed"


class ProductNotFound(DomainError):
    title = "Product not found"


class DuplicateSku(DomainError):
    title = "SKU already exists"


class VersionConflict(DomainError):
    title = "Version conflict"


class InsufficientStock(DomainError):
    title = "Insufficient stock"


class LocationNotFound(DomainError):
    title = "Location not found"


class DuplicateLocationCode(DomainError):
    title = "Location code already exists"


class LocationInUse(DomainError):
    """A location that holds stock, has children, is named by the ledger or is the default: kept (409)."""

    title = "Location in use"


class LocationInactive(DomainError):
    """Stock into an inactive location, or a child under one (409)."""

    title = "Location inactive"


class IdempotencyKeyReused(DomainError):
    title = "Idempotency key reused with a different request"


class ImportRejected(DomainError):
    """A CSV import with invalid rows, applied not at all; `errors` names every bad row (422)."""

    title = "Import rejected"


@dataclass
class RowError:
    row: int
    field: str
    message: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)


# -- identity and access ----------------------------------------------------------------------------
class NotAuthenticated(DomainError):
    """No valid credentials (none, unknown, expired, revoked, or a disabled user's): 401."""

    title = "Authentication required"


class InvalidCredentials(DomainError):
    """A sign-in or password check that failed: the same answer whatever was wrong."""

    title = "Invalid email or password"


class PermissionDenied(DomainError):
    title = "Forbidden"


class TooManyAttempts(DomainError):
    title = "Too many attempts"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class DuplicateEmail(DomainError):
    title = "Email already in use"


class UserNotFound(DomainError):
    title = "User not found"


class TokenNotFound(DomainError):
    title = "Token not found"
