"""The few error types that services raise and fronts (app, CLI, daemon) catch."""

from __future__ import annotations

from dataclasses import dataclass, field


class ServiceError(Exception):
    """Base of every error a person is meant to read."""


class ValidationError(ServiceError):
    """Bad input: one field and the reason. Nothing was written."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(ServiceError):
    def __init__(self, what: str, key: object):
        super().__init__(f"{what} {key} does not exist")
        self.what = what
        self.key = key


class PermissionDenied(ServiceError):
    """The acting user may not do this; the message says why."""


@dataclass
class FieldConflict:
    field: str
    base: object
    """The value the form loaded."""
    mine: object
    theirs: object


@dataclass
class ConflictError(ServiceError):
    """Somebody else saved the record after this form loaded it."""

    what: str
    key: object
    current_version: int
    fields: list[FieldConflict] = field(default_factory=list)

    def __str__(self) -> str:
        names = ", ".join(c.field for c in self.fields) or "the record"
        return f"{self.what} {self.key} was changed by someone else meanwhile ({names})"
