"""Domain errors shared by every app; config.api_errors maps them to HTTP in one place."""

from __future__ import annotations


class DomainError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class Invalid(DomainError):
    """Input that breaks a rule: the errors name the fields."""

    code = "invalid"
    http_status = 400


class InvalidTransition(DomainError):
    code = "invalid_transition"
    http_status = 409


class ReadOnly(DomainError):
    """Archived campaigns, or sections the current state locks."""

    code = "read_only"
    http_status = 409


class Forbidden(DomainError):
    code = "permission_denied"
    http_status = 403


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class LimitReached(DomainError):
    """A hard cap (such as 900 labels) would be passed."""

    code = "limit_reached"
    http_status = 409


class Conflict(DomainError):
    """The change would leave other data inconsistent (a label still used by an audience)."""

    code = "conflict"
    http_status = 409


class Refused(DomainError):
    """An action the workflow refuses now, named by its own code (approval_required,
    changes_discarded, self_approval, ...) so clients can tell the reasons apart."""

    http_status = 409

    def __init__(
        self, message: str, *, code: str, errors: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message, errors=errors)
        self.code = code
