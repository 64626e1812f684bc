"""Domain errors. The web layer maps each to one HTTP status in one place."""

from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # Further problems found in the same form or request, so all are said at once.
        self.more: list[DomainError] = []

    @property
    def problems(self) -> list[DomainError]:
        return [self, *self.more]

    def message_for(self, field: str) -> str | None:
        """What is wrong with `field`, if anything."""
        return next((p.message for p in self.problems if p.field == field), None)


class ValidationError(DomainError):
    status = 422


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """A forbidden status transition, or an edit made against an outdated copy."""

    status = 409


class TooLarge(DomainError):
    status = 413


class StorageFailed(DomainError):
    """Bytes could not be written to the data folder (read-only, disk full, ...)."""

    status = 507
