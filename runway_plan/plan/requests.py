"""The requests a run will send, rendered for review: what ``runway-plan compile`` prints.

Each generation of a valid graph, in the order a run starts them (topological, ties in the
spec's order), with its endpoint (``POST /v1/<endpoint>``), its model and its body with every
template rendered and every fan-out expanded, as the API will receive it, except where the
body names media the run supplies:

* an upstream output (``@step``, ``@step[i]``), sent as its URL, is
  ``{"$output": "<generation>", "index": i}``;
* a local file, sent as a data URI or an upload, is
  ``{"$file": "<path as written>", "media": "image/png", "bytes": n, "sha256": "..."}``,
  read only inside the spec's root (as validation reads it), and never shown;
* a data URI is ``{"$data": "image/png", "bytes": n, "sha256": "..."}``: its bytes are not
  repeated;
* the id of one of the spec's avatars (an avatar video's ``avatar: "@name"``), sent once the
  run has made it, is ``{"$avatar": "<name>"}``;
* a generate step's ``configId: "@router"`` is the slug of that spec router, as it is sent.

URLs (``https://``, ``runway://``) are shown as written.  Serialised with
:func:`requests_yaml` or :func:`~runway_plan.diagnostics.display.json_text`, a spec's text
means exactly what it says and cannot act on a terminal or a CI log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from runway_plan.catalog.assets import asset_fields, set_path
from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic
from runway_plan.diagnostics.display import codepoint_escape, display_lines, is_hidden
from runway_plan.files import LocalFileError
from runway_plan.probe import probe_local
from runway_plan.spec import WORKFLOWS
from runway_plan.validate import describe
from runway_plan.validate.assets import file_diagnostic

__all__ = ["COMPILED_VERSION", "compiled_requests", "requests_yaml"]

COMPILED_VERSION = 1
"""The version of the document :func:`compiled_requests` makes (its ``version`` key)."""

_DATA_URI = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(?:;[^,]*)?),(?P<data>.*)\Z", re.S)


@dataclass
class _Assets:
    """Local files and data URIs as a compiled request shows them, each read once."""

    graph: Graph
    files: dict[str, dict[str, Any] | LocalFileError] = field(default_factory=dict)

    def local(self, value: str) -> dict[str, Any] | LocalFileError:
        found = self.files.get(value)
        if found is None:
            limit = self.graph.catalog.overlay.largest_upload
            try:
                with self.graph.root.open(value, limit=limit) as local:
                    info = probe_local(local)
                    found = {
                        "$file": value,
                        "media": info.mime,
                        "bytes": local.size,
                        "sha256": local.sha256(),
                    }
            except LocalFileError as exc:
                found = exc
            self.files[value] = found
        return found

    @staticmethod
    def data(value: str) -> dict[str, Any]:
        match = _DATA_URI.match(value)
        if match is None:
            return {"$data": None, "chars": len(value)}
        try:
            payload = base64.b64decode(match["data"].strip(), validate=True)
        except (binascii.Error, ValueError):
            return {"$data": match["mime"] or None, "chars": len(value)}
        return {
            "$data": match["mime"] or None,
            "bytes": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }


def compiled_requests(graph: Graph) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The document of every request a run of ``graph`` (valid: validate it first) sends,
    and the diagnostics of local files that could not be read for it (RP222, RP228)."""
    assets = _Assets(graph)
    diagnostics: list[Diagnostic] = []
    generations = []
    for key in graph.order_keys():
        gen = graph.generations[key]
        body: Any = gen.request
        inputs: list[str] = []
        ref_paths = set()
        for path, ref in gen.refs:
            node = graph.steps.get(ref.step)
            index = 0 if ref.index is None else ref.index
            if node is None or not 0 <= index < len(node.outputs):
                continue
            producer, output = node.outputs[index]
            body = set_path(body, path, {"$output": producer, "index": output})
            ref_paths.add(tuple(path))
            if producer not in inputs:
                inputs.append(producer)
        for path, voice in graph.voice_uses.get(key, ()):
            body = set_path(body, path, {"type": "custom", "id": {"$voice": voice}})
        for asset in asset_fields(graph.catalog, gen.endpoint, gen.model, gen.request):
            if asset.path in ref_paths:
                continue
            if asset.value.startswith("data:"):
                body = set_path(body, asset.path, assets.data(asset.value))
            elif graph.root.local_path(asset.value) is not None:
                shown = assets.local(asset.value)
                if isinstance(shown, LocalFileError):
                    span = graph.document.source_map.value(("steps", gen.step, *asset.path))
                    diagnostics.append(file_diagnostic(shown, describe.label(asset.path), span))
                    shown = {"$file": asset.value}
                body = set_path(body, asset.path, shown)
        if (gen.avatar is not None) and (gen.avatar.step, key) in graph.avatar_edges:
            body = set_path(body, ("avatar", "avatarId"), {"$avatar": gen.avatar.step})
        if gen.router is not None and gen.router in graph.routers:
            body = set_path(body, ("configId",), graph.routers[gen.router].slug)
        entry: dict[str, Any] = {"key": key, "step": gen.step}
        if gen.index is not None:
            entry["index"] = gen.index
        request = f"POST /v1/{gen.endpoint}"
        workflow = gen.request.get("workflow") if gen.endpoint == WORKFLOWS else None
        if isinstance(workflow, str) and isinstance(body, dict):
            # a workflow's id is sent in the path (POST /v1/workflows/{id}), not in the body
            request = f"{request}/{workflow}"
            body = {name: value for name, value in body.items() if name != "workflow"}
        entry |= {"request": request, "model": gen.model}
        if inputs:
            entry["inputs"] = inputs
        if graph.needs.get(gen.step):
            entry["needs"] = list(graph.needs[gen.step])
        entry["body"] = body
        generations.append(entry)
    spec = graph.spec
    document = {
        "version": COMPILED_VERSION,
        "spec": graph.document.source_map.path,
        "name": spec.name if spec is not None else None,
        "generations": generations,
    }
    return document, diagnostics


_HASHES = re.compile(r"#(?=#(?:vso)?\[)")


def _quoted(text: str) -> bool:
    """True when ``text`` is written double-quoted: it holds a character that acts or is
    hidden, a line break, a ``#`` or a leading ``:``, each then a YAML escape or inside
    quotes, so that no line of the document is the spec's own."""
    return (
        text.startswith(":")
        or "#" in text
        or any(char in "\n\r\x85\u2028\u2029" or is_hidden(char) for char in text)
    )


class _Dumper(yaml.SafeDumper):
    """Writes strings that hold what could act double-quoted (see :func:`_quoted`)."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = '"' if _quoted(text) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


def _yaml_escape(match: re.Match[str]) -> str:
    return codepoint_escape(match.group())


def requests_yaml(document: dict[str, Any]) -> str:
    """``document`` as YAML that reads back to exactly ``document`` and is safe to print.

    PyYAML writes a bidirectional override or a line separator raw even inside double
    quotes; every character that :func:`~runway_plan.diagnostics.display.is_hidden` and the
    ``#`` of ``##[`` are written as YAML escapes instead (valid there: only double-quoted
    strings can hold them, see :func:`_quoted`).
    """
    text = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=2**30,
        default_flow_style=False,
    )
    text = re.sub(
        r"[^\x20-\x7e\n]", lambda m: _yaml_escape(m) if is_hidden(m.group()) else m.group(), text
    )
    return display_lines(_HASHES.sub(_yaml_escape, text))
