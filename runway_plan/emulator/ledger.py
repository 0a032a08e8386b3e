"""The ledger: every task the emulator created, for tests that count generations and credits.

A test asks "did the executor pay twice for one step?" with :meth:`Ledger.duplicates` (tasks
created from the same request body) and "what did the run cost?" with
:meth:`Ledger.billed_credits`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["Ledger", "LedgerEntry"]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One created task.

    ``request_hash`` is the SHA-256 of the endpoint and the canonical JSON body.
    ``estimated_credits`` is the pricer's price (None when unknown), ``charged_credits`` what
    was deducted at creation (whole credits), ``billed_credits`` the final cost once the task
    is terminal (0 when refunded; None while in flight).  ``fault`` names the injected fault
    that touched the create (``lost_response``, ``task_failed``, ...).
    """

    task_id: str
    seq: int
    created_at: str
    endpoint: str
    model: str
    request_hash: str
    estimated_credits: Decimal | None
    charged_credits: int
    billed_credits: int | None
    status: str
    failure_code: str | None = None
    deleted: bool = False
    fault: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (camelCase, like the API)."""
        estimated = self.estimated_credits
        return {
            "taskId": self.task_id,
            "seq": self.seq,
            "createdAt": self.created_at,
            "endpoint": self.endpoint,
            "model": self.model,
            "requestHash": self.request_hash,
            "estimatedCredits": None if estimated is None else str(estimated),
            "chargedCredits": self.charged_credits,
            "billedCredits": self.billed_credits,
            "status": self.status,
            "failureCode": self.failure_code,
            "deleted": self.deleted,
            "fault": self.fault,
        }


@dataclass(frozen=True, slots=True)
class Ledger:
    """A snapshot of every created task, in submission order."""

    entries: tuple[LedgerEntry, ...]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[LedgerEntry]:
        return iter(self.entries)

    def __getitem__(self, index: int) -> LedgerEntry:
        return self.entries[index]

    def duplicates(self) -> dict[str, int]:
        """Request hashes created more than once, with how many times."""
        counts = Counter(entry.request_hash for entry in self.entries)
        return {digest: count for digest, count in counts.items() if count > 1}

    def billed_credits(self) -> int:
        """Credits billed by terminal tasks (refunds count as 0)."""
        return sum(entry.billed_credits or 0 for entry in self.entries)

    def charged_credits(self) -> int:
        """Credits deducted at creation, before any refund."""
        return sum(entry.charged_credits for entry in self.entries)

    def for_model(self, model: str) -> list[LedgerEntry]:
        """Entries of one model."""
        return [entry for entry in self.entries if entry.model == model]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data for ``GET /_emulator/ledger``."""
        return {
            "entries": [entry.to_dict() for entry in self.entries],
            "tasks": len(self.entries),
            "billedCredits": self.billed_credits(),
            "chargedCredits": self.charged_credits(),
            "duplicates": self.duplicates(),
        }
