"""Errors of the case lifecycle. Each carries an HTTP status and a message a person can act on (Chinese)."""
from __future__ import annotations


class CaseError(Exception):
    status = 400

    def __init__(self, message: str, **extra: object):
        super().__init__(message)
        self.message = message
        self.extra = extra

    def payload(self) -> dict[str, object]:
        return {"detail": self.message, **self.extra}


class NotAllowed(CaseError):
    """The actor may not do this to this case (wrong role, another department's case): 403."""

    status = 403


class InvalidTransition(CaseError):
    """The state machine forbids the action in the case's current state: 409 with the allowed ones."""

    status = 409

    def __init__(self, message: str, allowed: list[str], status: str):
        super().__init__(message, allowed=allowed, current_status=status)
        self.allowed = allowed


class InvalidInput(CaseError):
    """A missing or wrong field: 422."""

    status = 422


class TooLarge(CaseError):
    status = 413


class NotFound(CaseError):
    status = 404
