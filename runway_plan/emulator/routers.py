"""``/v1/routers``: model router configs, and how a generate request is routed with one.

A router is kept as runwayml 5.24.0 shows it (``types/router_create_response.py``): ``id``,
``slug`` (unique in the account, immutable), ``name`` (the slug when omitted),
``description``, ``settings`` (``schemaVersion`` 1 always shown; ``optimizeFor`` ``cost`` by
default), ``version`` (incremented when the settings change, not the name or description),
``createdAt`` and ``updatedAt``.  An update merges ``settings`` as the SDK documents it
(omitted fields keep their values; a ``maxCreditsPerGeneration`` of null, or one modality of
null, removes that cap).  Model ids must be public models of the catalog.

:meth:`Routers.choose` routes a generate request: the router named by ``configId`` (400
naming ``configId`` when the account has none of that slug), the candidates its settings
allow for the input (:meth:`runway_plan.catalog.Catalog.route`), each priced from the price
sheet; models above the modality's credit cap are excluded, and the pick is deterministic:
the cheapest for ``cost`` (the default), the one with the shortest catalog latency for
``latency``, the dearest for ``quality``, ties to the catalog's order.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from runway_plan.catalog.routing import ROUTED, Candidate, credit_cap, output_count
from runway_plan.emulator.account import Account, Reply, error, invalid, iso, new_id
from runway_plan.emulator.params import limit
from runway_plan.emulator.validation import Issue, validate_resource

__all__ = ["Choice", "Routers"]


@dataclass(frozen=True, slots=True)
class Choice:
    """The model a generate request was routed to, its price, and the routing shown."""

    candidate: Candidate
    cost: Decimal
    routing: dict[str, Any]


class Routers:
    """The model routers of an account."""

    def __init__(self, account: Account) -> None:
        """Routers of ``account``."""
        self._account = account
        self._records: dict[str, dict[str, Any]] = {}

    def _unknown_models(self, body: Mapping[str, Any]) -> list[Issue]:
        settings = body.get("settings")
        models = settings.get("models") if isinstance(settings, dict) else None
        ids = models.get("ids") if isinstance(models, dict) else None
        known = self._account.catalog.public_models
        return [
            Issue(("settings", "models", "ids", i), f"unknown model id '{model}'")
            for i, model in enumerate(ids if isinstance(ids, list) else [])
            if isinstance(model, str) and model not in known
        ]

    def create(self, body: Any) -> Reply:
        """``POST /v1/routers``."""
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")
        issues = validate_resource(self._account.catalog, "router_create", body)
        issues = issues or self._unknown_models(body)
        if issues:
            return invalid(issues)
        with self._account.lock:
            now = self._account.advance()
            if any(r["slug"] == body["slug"] for r in self._records.values()):
                return invalid([Issue(("slug",), f"slug '{body['slug']}' is already in use")])
            settings = copy.deepcopy(body.get("settings", {}))
            settings["schemaVersion"] = 1
            settings.setdefault("optimizeFor", "cost")
            router = {
                "id": new_id(),
                "slug": body["slug"],
                "name": body.get("name", body["slug"]),
                "description": body.get("description"),
                "settings": settings,
                "version": 1,
                "createdAt": now,
                "updatedAt": now,
            }
            self._records[router["id"]] = router
            return Reply(200, _view(router))

    def get(self, router_id: str) -> Reply:
        """``GET /v1/routers/{id}``."""
        return self._account.show(
            self._records, router_id, "Router not found.", lambda r, _now: _view(r)
        )

    def update(self, router_id: str, body: Any) -> Reply:
        """``PATCH /v1/routers/{id}``: a nested merge of the settings (module docstring)."""
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")
        if "slug" in body:
            return invalid([Issue(("slug",), "the slug is immutable")])
        issues = validate_resource(self._account.catalog, "router_update", body)
        issues = issues or self._unknown_models(body)
        if issues:
            return invalid(issues)
        with self._account.lock:
            now = self._account.advance()
            router = self._records.get(router_id)
            if router is None:
                return error(404, "Router not found.")
            for name in ("name", "description"):
                if name in body:
                    router[name] = body[name]
            if "settings" in body:
                merged = _merge(router["settings"], body["settings"])
                if merged != router["settings"]:
                    router["settings"] = merged
                    router["version"] += 1
            router["updatedAt"] = now
            return Reply(200, _view(router))

    def delete(self, router_id: str) -> Reply:
        """``DELETE /v1/routers/{id}``."""
        with self._account.lock:
            if self._records.pop(router_id, None) is None:
                return error(404, "Router not found.")
            return Reply(204)

    def list_page(self, query: Mapping[str, str]) -> Reply:
        """``GET /v1/routers?limit&cursor`` (newest first)."""
        issues: list[Issue] = []
        size = limit(query, issues)
        if issues:
            return invalid(issues)
        return self._account.show_page(
            self._records.values(),
            lambda r: (r["createdAt"], r["id"]),
            True,
            query,
            size,
            lambda r, _now: _view(r),
        )

    def views(self) -> list[dict[str, Any]]:
        """Every router as ``GET /v1/routers/{id}`` shows it, in creation order."""
        with self._account.lock:
            return [_view(r) for r in self._records.values()]

    # ------------------------------------------------------------------ routing

    def choose(self, endpoint: str, body: dict[str, Any]) -> Choice | list[Issue]:
        """Route a (valid) generate request: the model picked, or why none can be."""
        account = self._account
        slug = body.get("configId")
        router = next((r for r in self._records.values() if r["slug"] == slug), None)
        if router is None:
            return [Issue(("configId",), f"no router config with slug '{slug}'")]
        settings = router["settings"]
        routing = account.catalog.route(endpoint, body, settings, concrete=True)
        cap = credit_cap(settings, endpoint)
        priced: list[tuple[Decimal, Candidate]] = []
        for candidate in routing.candidates:
            cost = account.pricer(candidate.endpoint, candidate.request)
            if cost is None or (cap is not None and cost > cap * output_count(body)):
                continue
            priced.append((cost, candidate))
        if not priced:
            return [Issue(("input",), f"no model router '{slug}' allows can take this input")]
        goal = settings.get("optimizeFor", "cost")
        if goal == "quality":
            cost, chosen = max(priced, key=lambda p: p[0])
        elif goal == "latency":
            overlay = account.catalog.model_overlay
            cost, chosen = min(priced, key=lambda p: overlay(p[1].model).latency_seconds)
        else:
            cost, chosen = min(priced, key=lambda p: p[0])
        return Choice(chosen, cost, _routing(endpoint, body, router, chosen, cost, cap))


def _merge(current: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(current)
    for key, value in change.items():
        if key == "maxCreditsPerGeneration":
            if value is None:
                merged.pop(key, None)
                continue
            caps = dict(merged.get(key) or {})
            for modality, cap in value.items():
                if cap is None:
                    caps.pop(modality, None)
                else:
                    caps[modality] = cap
            merged[key] = caps
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    merged["schemaVersion"] = 1
    return merged


def _view(router: Mapping[str, Any]) -> dict[str, Any]:
    data = {key: router[key] for key in ("id", "slug", "name", "settings", "version")}
    data["settings"] = copy.deepcopy(router["settings"])
    if router.get("description") is not None:
        data["description"] = router["description"]
    data["createdAt"] = iso(router["createdAt"])
    data["updatedAt"] = iso(router["updatedAt"])
    return data


def _routing(
    endpoint: str,
    body: Mapping[str, Any],
    router: Mapping[str, Any],
    chosen: Candidate,
    cost: Decimal,
    cap: int | None,
) -> dict[str, Any]:
    """The ``routing`` of a generate response (``types/generate/*_create_response.py``)."""
    data = body.get("input") if isinstance(body.get("input"), dict) else {}
    assert isinstance(data, dict)
    request = chosen.request
    resolved: dict[str, Any]
    if ROUTED[endpoint] == "video":
        resolved = {
            "duration": float(request.get("duration", data.get("duration", 0)) or 0),
            "ratio": str(request.get("ratio", "")),
            "resolution": str(data.get("resolution", request.get("resolution", ""))),
        }
    elif ROUTED[endpoint] == "image":
        resolved = {
            "aspectRatio": str(data.get("aspectRatio", "")),
            "ratio": str(request.get("ratio", "auto")),
            "resolution": str(data.get("resolution", request.get("resolution", ""))),
        }
    else:
        voice = data.get("voice")
        kind = voice.get("type") if isinstance(voice, dict) else None
        speech = data.get("type") == "speech"
        resolved = {
            "type": data.get("type", "speech"),
            "voice": kind
            if kind in ("preset", "reference-audio")
            else "default"
            if speech
            else "none",
        }
    return {
        "configId": router["slug"],
        "estimatedCost": {"credits": float(cost)},
        "model": chosen.model,
        "provider": _provider(chosen.model),
        "resolvedInput": resolved,
        "resolvedSettings": {
            "optimizeFor": router["settings"].get("optimizeFor", "cost"),
            "priceCeiling": cap,
        },
    }


_PROVIDERS = (
    ("gen", "runway"),
    ("act_", "runway"),
    ("aleph", "runway"),
    ("veo", "google"),
    ("gemini", "google"),
    ("nano_banana", "google"),
    ("seed", "bytedance"),
    ("kling", "kling"),
    ("eleven", "elevenlabs"),
    ("gpt", "openai"),
    ("grok", "xai"),
    ("wan", "alibaba"),
    ("happyhorse", "alibaba"),
    ("hailuo", "minimax"),
    ("h3", "minimax"),
)


def _provider(model: str) -> str:
    """The provider shown for a model (by its family's name; ``other`` when not known)."""
    return next((name for prefix, name in _PROVIDERS if model.startswith(prefix)), "other")
