"""The model catalog: what every endpoint and model of the Runway API accepts, costs and allows.

Load it with :func:`load_catalog`; the packaged catalog is read from the package's directory
on first use and cached, and a directory holding the same four files overrides it
(``--catalog PATH``).  Nothing here is fetched at run time.  Every file is read as a spec is
(:mod:`runway_plan.source`): only regular files within the ``file_bytes`` limit, only plain data,
no alias bombs, bounded nesting, finite numbers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from runway_plan.catalog.model import (
    ArrayType,
    Constraints,
    EndpointSpec,
    EnumType,
    FieldPatch,
    FieldSpec,
    IntegerType,
    LengthTolerance,
    MapType,
    Media,
    ModelOverlay,
    ModelSpec,
    ObjectType,
    Overlay,
    Price,
    Prices,
    RetiredModel,
    Tier,
    Tiers,
    TypeNode,
    UnionType,
)
from runway_plan.catalog.routing import Routing, route
from runway_plan.diagnostics import Diagnostic
from runway_plan.errors import RunwayPlanError
from runway_plan.limits import WorkLimits
from runway_plan.source import parse_document, read_limited

__all__ = [
    "OUTPUT_COUNT",
    "Catalog",
    "CatalogError",
    "EndpointSpec",
    "FieldSpec",
    "ModelSpec",
    "load_catalog",
]

OUTPUT_COUNT = "outputCount"
"""The request field that asks a generation for more than one output."""

FILES = ("constraints.json", "overlay.yaml", "prices.yaml", "tiers.yaml")


class CatalogError(RunwayPlanError):
    """A catalog file is missing or does not match the catalog's schema."""


@dataclass(frozen=True)
class Catalog:
    """The four catalog files, validated, with the lookups the stages need."""

    constraints: Constraints
    overlay: Overlay
    prices: Prices
    tiers: Tiers
    digest: str
    origin: str

    @property
    def version(self) -> str:
        """The catalog's version: the SDK it was generated from and the overlay's date."""
        return f"runwayml-{self.constraints.sdk_version}+{self.overlay.version}"

    @property
    def endpoints(self) -> dict[str, EndpointSpec]:
        """Generation endpoints by name (``image_to_video``, ...)."""
        return self.constraints.endpoints

    @cached_property
    def model_endpoints(self) -> dict[str, tuple[str, ...]]:
        """For each model, the endpoints that accept it."""
        found: dict[str, list[str]] = {}
        for endpoint in self.constraints.endpoints.values():
            for model in endpoint.models:
                found.setdefault(model, []).append(endpoint.name)
        return {model: tuple(names) for model, names in found.items()}

    @cached_property
    def field_names(self) -> frozenset[str]:
        """Every request field name of every model, nested ones included."""
        names: set[str] = set()
        nodes: list[TypeNode] = []
        for endpoint in self.constraints.endpoints.values():
            for model in endpoint.models.values():
                names.update(model.fields)
                nodes.extend(field.type for field in model.fields.values())
        seen: set[int] = set()
        while nodes:
            node = nodes.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, ObjectType):
                names.update(node.fields)
                nodes.extend(field.type for field in node.fields.values())
            elif isinstance(node, ArrayType):
                nodes.append(node.items)
            elif isinstance(node, MapType):
                nodes.append(node.values)
            elif isinstance(node, UnionType):
                nodes.extend(node.variants)
        return frozenset(names)

    @cached_property
    def model_less(self) -> frozenset[str]:
        """Endpoints whose request has no ``model`` field (``recipes/product_ad``, ...)."""
        return frozenset(name for name, spec in self.endpoints.items() if not spec.model_field)

    def implicit_model(self, endpoint: str) -> str | None:
        """The name standing for the model of an endpoint without a ``model`` field (None for
        an endpoint that takes one, or an unknown endpoint)."""
        spec = self.constraints.endpoints.get(endpoint)
        return spec.implicit_model if spec else None

    def request_model(self, endpoint: str, request: dict[str, Any]) -> str:
        """The model a request body is for: its ``model`` field, or the endpoint's own name on
        an endpoint without one ("" when neither names a model)."""
        implicit = self.implicit_model(endpoint)
        if implicit is not None:
            return implicit
        model = request.get("model")
        return model if isinstance(model, str) else ""

    # ------------------------------------------------------------------ routers

    @cached_property
    def routable(self) -> dict[str, dict[str, dict[str, FieldSpec]]]:
        """The request fields of every model a router may pick, by endpoint then model (the
        endpoints with a ``model`` field; retired models left out)."""
        return {
            name: {
                model: dict(spec.fields)
                for model, spec in endpoint.models.items()
                if model not in self.overlay.retired
            }
            for name, endpoint in self.constraints.endpoints.items()
            if endpoint.model_field
        }

    @cached_property
    def public_models(self) -> frozenset[str]:
        """Every model a router's ``settings.models.ids`` may name."""
        return frozenset(model for models in self.routable.values() for model in models)

    def route(
        self,
        endpoint: str,
        request: dict[str, Any],
        settings: dict[str, Any],
        *,
        concrete: bool = False,
    ) -> Routing:
        """The models a router with ``settings`` may pick for a generate request (see
        :func:`runway_plan.catalog.routing.route`)."""
        return route(self.routable, endpoint, request, settings, concrete=concrete)

    def default_output_count(self, model: str) -> int:
        """How many outputs a generation of ``model`` makes when the request does not say."""
        return self.model_overlay(model).output_count or 1

    def model(self, endpoint: str, model: str) -> ModelSpec | None:
        """The request type of ``model`` on ``endpoint``, or None."""
        spec = self.constraints.endpoints.get(endpoint)
        return spec.models.get(model) if spec else None

    def model_overlay(self, model: str) -> ModelOverlay:
        """Hand-kept facts about ``model`` (empty defaults when none are kept)."""
        return self.overlay.models.get(model) or ModelOverlay()

    def retired(self, model: str) -> RetiredModel | None:
        """Retirement record of ``model``, when the API no longer accepts it."""
        return self.overlay.retired.get(model)

    def output_media(self, endpoint: str, model: str) -> Media:
        """The media a generation of ``model`` on ``endpoint`` produces."""
        media = self.model_overlay(model).output_media
        return media or self.overlay.endpoint_output[endpoint]

    def output_length_tolerance(self, endpoint: str, model: str) -> LengthTolerance | None:
        """How far the length of a file ``model`` delivers on ``endpoint`` may differ from the
        length it was made for (None: exactly that length)."""
        own = self.model_overlay(model).output_length_tolerance
        if own is not None:
            return own
        return self.overlay.output_length_tolerance.get(self.output_media(endpoint, model))

    def max_output_count(self, endpoint: str, model: str) -> int:
        """The most outputs one generation of ``model`` may ask for with ``outputCount``.

        1 when the model has no such field; the overlay's ``output_count_range`` when neither
        the SDK nor the overlay bounds it.
        """
        spec = self.model(endpoint, model)
        field = spec.fields.get(OUTPUT_COUNT) if spec else None
        if field is None:
            return 1
        if isinstance(field.type, EnumType):
            return max((v for v in field.type.values if isinstance(v, int)), default=1)
        patch = self.model_overlay(model).fields.get(OUTPUT_COUNT)
        if patch is not None and patch.maximum is not None:
            return int(patch.maximum)
        if isinstance(field.type, IntegerType) and field.type.maximum is not None:
            return field.type.maximum
        return self.overlay.output_count_range[1]

    def price(self, model: str) -> Price | None:
        """How ``model`` is billed, or None when its price is unknown."""
        return self.prices.models.get(model)

    def tier(self, number: int) -> Tier:
        """Tier ``number`` (1-5)."""
        return self.tiers.tiers[number]

    def limit_group(self, model: str) -> str:
        """The tier-limit group ``model`` shares its concurrency and daily caps with."""
        return self.tiers.model_groups.get(model, self.tiers.default_group)


def _describe(diagnostic: Diagnostic) -> str:
    where = f"{diagnostic.span}: " if diagnostic.span else ""
    return f"{where}{diagnostic.code} {diagnostic.message}"


def _read_dir(directory: Path, max_bytes: int) -> dict[str, bytes]:
    raw: dict[str, bytes] = {}
    for name in FILES:
        found = read_limited(directory / name, str(directory / name), max_bytes)
        if isinstance(found, Diagnostic):
            raise CatalogError(f"cannot read catalog at {directory}: {_describe(found)}")
        raw[name] = found
    return raw


def _parsed(raw: bytes, name: str, origin: str) -> Any:
    """The data of one catalog file, read by the same safe loader as a spec."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogError(f"catalog at {origin} is invalid: {name}: not UTF-8 text") from exc
    document = parse_document(text, name)
    problems = [d for d in document.diagnostics if d.is_error]
    if problems:
        shown = "; ".join(_describe(d) for d in problems[:3])
        raise CatalogError(f"catalog at {origin} is invalid: {shown}")
    return document.data


def _parsed_trusted(raw: bytes, name: str, origin: str) -> Any:
    """The data of one file of the packaged catalog, which is part of the installed code: read
    with the plain parsers, ten times faster (a test checks both loaders agree on it)."""
    if name.endswith(".json"):
        return json.loads(raw)
    return yaml.load(raw, Loader=yaml.CSafeLoader)


def _build(
    raw: dict[str, bytes],
    origin: str,
    where: str,
    parse: Callable[[bytes, str, str], Any] = _parsed,
) -> Catalog:
    """A catalog from the bytes of its four files; ``where`` names them in diagnostics."""
    digest = hashlib.sha256()
    for name in FILES:
        digest.update(name.encode() + b"\0" + raw[name] + b"\0")
    models: dict[str, type[BaseModel]] = {
        "constraints.json": Constraints,
        "overlay.yaml": Overlay,
        "prices.yaml": Prices,
        "tiers.yaml": Tiers,
    }
    parts: dict[str, Any] = {}
    for name, model in models.items():
        data = parse(raw[name], f"{where}/{name}", origin)
        try:
            parts[name] = model.model_validate(data)
        except ValidationError as exc:
            raise CatalogError(f"catalog at {origin} is invalid: {exc}") from exc
    return Catalog(
        constraints=parts["constraints.json"],
        overlay=_with_floors(parts["constraints.json"], parts["overlay.yaml"]),
        prices=parts["prices.yaml"],
        tiers=parts["tiers.yaml"],
        digest=digest.hexdigest(),
        origin=origin,
    )


def _unbounded_below(node: Any) -> bool:
    """True when a numeric type (or a numeric variant of a union) has no lower bound."""
    kind = getattr(node, "kind", None)
    if kind == "union":
        return any(_unbounded_below(variant) for variant in node.variants)
    if kind in ("integer", "number"):
        return node.minimum is None and getattr(node, "exclusive_minimum", None) is None
    return False


def _floored(
    fields: dict[str, FieldSpec], floors: dict[str, FieldPatch], at: str = ""
) -> Iterator[tuple[str, FieldSpec, FieldPatch]]:
    """The fields named in ``floors``, at any depth of objects (``input.duration`` of a
    model-agnostic request too), by dotted path, with their floor."""
    for name, node in fields.items():
        path = f"{at}{name}"
        floor = floors.get(name)
        if floor is not None:
            yield path, node, floor
        if isinstance(node.type, ObjectType):
            yield from _floored(node.type.fields, floors, f"{path}.")


def _with_floors(constraints: Constraints, overlay: Overlay) -> Overlay:
    """``overlay`` with its ``field_floors`` copied into each model whose field needs one, so
    the validator and the schema see one patch per model field."""
    if not overlay.field_floors:
        return overlay
    models = dict(overlay.models)
    for endpoint in constraints.endpoints.values():
        for name, spec in endpoint.models.items():
            for field, node, floor in _floored(spec.fields, overlay.field_floors):
                own = models.get(name) or ModelOverlay(source=floor.source)
                patch = own.fields.get(field)
                if not _unbounded_below(node.type):
                    continue
                if patch is not None and patch.minimum is not None:
                    continue
                merged = (
                    floor
                    if patch is None
                    else patch.model_copy(
                        update={
                            "minimum": floor.minimum,
                            "source": f"{patch.source} {floor.source}",
                        }
                    )
                )
                models[name] = own.model_copy(update={"fields": {**own.fields, field: merged}})
    return overlay.model_copy(update={"models": models})


@lru_cache(maxsize=1)
def _packaged() -> Catalog:
    directory = Path(__file__).parent
    raw = _read_dir(directory, WorkLimits().file_bytes)
    return _build(raw, "runway_plan/catalog", str(directory), _parsed_trusted)


def load_catalog(path: Path | str | None = None, *, max_bytes: int | None = None) -> Catalog:
    """Load the packaged catalog (cached), or the catalog in directory ``path``.

    ``max_bytes`` is the ``file_bytes`` limit each of its files must keep within (its default
    when None).
    """
    if path is None:
        return _packaged()
    directory = Path(path)
    raw = _read_dir(directory, WorkLimits().file_bytes if max_bytes is None else max_bytes)
    return _build(raw, str(directory), str(directory))
