"""Domain errors: every rule an action enforces fails with one of these."""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise


class DomainError(Exception):
    """A rule was broken. ``code`` is stable and machine-readable; ``message`` is localized.

    The API turns it into the error envelope, pages into a form or page message.
    """

    status = 400

    def __init__(
        self,
        code: str,
        message: str | Promise,
        *,
        details: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.details = details or {}
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return str(self.message)


class ConflictError(DomainError):
    """The object changed or already exists (HTTP 409)."""

    status = 409
