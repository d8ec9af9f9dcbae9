"""The refusal every rule of the domain raises (the queue's operations, a
follow-up case's change): its own room, so the rooms that refuse need not
import one another."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """An operation the rules refuse; ``code`` is stable, for machines."""

    def __init__(self, code: str, message: str, **details: Any):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        # Events committed before the refusal (a day rollover), set by the engine.
        self.events: list[dict] = []
