"""``/v1/documents``: the knowledge documents avatars may name.

A document's ``usedBy`` lists the avatars that name it; deleting a document drops it from
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runway_plan.emulator.account import Account, Reply, error, invalid, iso, new_id, refused
from runway_plan.emulator.avatars import Avatars
from runway_plan.emulator.params import limit
from runway_plan.emulator.validation import Issue

__all__ = ["Documents"]


class Documents:
    """The documents of an account, kept in ``records`` (by id, in creation order), which the
    avatars read to know which documents exist."""

    def __init__(
        self, account: Account, records: dict[str, dict[str, Any]], avatars: Avatars
    ) -> None:
        """Documents of ``account`` in ``records``, named by ``avatars``."""
        self._account = account
        self._records = records
        self._avatars = avatars

    def views(self, now: float, base_url: str) -> dict[str, dict[str, Any]]:
        """Every document by id, in creation order, as ``GET /v1/documents/{id}`` shows it."""
        return {
            key: self._view(document, now, base_url, full=True)
            for key, document in self._records.items()
        }

    def create(self, body: Any, *, base_url: str = "") -> Reply:
        """``POST /v1/documents``."""
        refusal = refused(self._account.catalog, "document_create", body)
        if refusal is not None:
            return refusal
        with self._account.lock:
            now = self._account.advance()
            document = {
                "id": new_id(),
                "name": body["name"],
                "content": body["content"],
                "type": "text",
                "createdAt": now,
                "updatedAt": now,
            }
            self._records[document["id"]] = document
            return Reply(200, self._view(document, now, base_url, full=True))

    def _view(
        self, document: Mapping[str, Any], now: float, base_url: str, *, full: bool
    ) -> dict[str, Any]:
        data = {
            "id": document["id"],
            "name": document["name"],
            "type": document["type"],
            "createdAt": iso(document["createdAt"]),
            "updatedAt": iso(document["updatedAt"]),
            "usedBy": self._avatars.used_by(document["id"], now, base_url),
        }
        if full:
            data["content"] = document["content"]
        return data

    def get(self, document_id: str, *, base_url: str = "") -> Reply:
        """``GET /v1/documents/{id}``."""
        return self._account.show(
            self._records,
            document_id,
            "Document not found.",
            lambda document, now: self._view(document, now, base_url, full=True),
        )

    def update(self, document_id: str, body: Any) -> Reply:
        """``PATCH /v1/documents/{id}``: no body in the answer."""
        refusal = refused(self._account.catalog, "document_update", body)
        if refusal is not None:
            return refusal
        with self._account.lock:
            now = self._account.advance()
            document = self._records.get(document_id)
            if document is None:
                return error(404, "Document not found.")
            document.update({k: v for k, v in body.items() if k in ("name", "content")})
            document["updatedAt"] = now
            return Reply(204)

    def delete(self, document_id: str) -> Reply:
        """``DELETE /v1/documents/{id}``."""
        with self._account.lock:
            if self._records.pop(document_id, None) is None:
                return error(404, "Document not found.")
            self._avatars.unlink(document_id)
            return Reply(204)

    def list_page(self, query: Mapping[str, str], *, base_url: str = "") -> Reply:
        """``GET /v1/documents?limit&order&sort&cursor``."""
        issues = []
        order, sort = query.get("order", "desc"), query.get("sort", "createdAt")
        if order not in ("asc", "desc"):
            issues.append(Issue(("order",), "order must be 'asc' or 'desc'"))
        if sort not in ("createdAt", "updatedAt"):
            issues.append(Issue(("sort",), "sort must be 'createdAt' or 'updatedAt'"))
        size = limit(query, issues)
        if issues:
            return invalid(issues)
        return self._account.show_page(
            self._records.values(),
            lambda d: (d[sort], d["id"]),
            order == "desc",
            query,
            size,
            lambda d, now: self._view(d, now, base_url, full=False),
        )
