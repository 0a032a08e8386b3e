"""Published workflows: ``GET /v1/workflows``, ``GET /v1/workflows/{id}``,
``POST /v1/workflows/{id}`` (run) and ``GET /v1/workflow_invocations/{id}`` (runwayml 5.24.0
``workflows`` and ``workflow_invocations``).

The emulated account has a few published workflows (:data:`PUBLISHED`), each a graph of
input nodes, whose outputs a run may set (``nodeOutputs``: node id -> output key -> a typed
value), and one generation node that makes the workflow's outputs.  A run is refused with a 400
naming the field for a node id or output key the graph lacks, or a value of the wrong type; it
is then one task of the generation node (validated, billed, queued and served by
:mod:`runway_plan.emulator.tasks` as every task is), and the invocation reports that task's
life: PENDING, THROTTLED, RUNNING, SUCCEEDED with the node's outputs and the cost, FAILED with
the node's error and the cost, CANCELLED.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runway_plan.emulator.account import Account, Reply, error, invalid, iso, new_id
from runway_plan.emulator.tasks import Tasks
from runway_plan.emulator.validation import Issue

__all__ = ["PUBLISHED", "Slot", "Workflow", "Workflows"]


@dataclass(frozen=True, slots=True)
class Slot:
    """An output of an input node that a run may set: its type, and where the generation node
    reads it (a field of its request; ``keyframe`` places an image as that keyframe)."""

    type: str
    target: str
    default: Any = None
    keyframe: str | None = None


@dataclass(frozen=True, slots=True)
class Workflow:
    """A published workflow: its input nodes' slots and the task its generation node runs."""

    id: str
    name: str
    description: str
    version: int
    created: str
    inputs: dict[str, dict[str, Slot]]
    node: str
    node_name: str
    endpoint: str
    request: dict[str, Any] = field(default_factory=dict)

    def graph(self) -> dict[str, Any]:
        """The graph as ``GET /v1/workflows/{id}`` shows it (nodes and edges)."""
        nodes: list[object] = [
            {
                "id": node,
                "type": "input",
                "outputs": {key: {"type": slot.type} for key, slot in slots.items()},
            }
            for node, slots in self.inputs.items()
        ]
        nodes.append(
            {"id": self.node, "type": "generation", "name": self.node_name, "model": self.model}
        )
        edges: list[object] = [
            {"from": node, "output": key, "to": self.node, "input": slot.target}
            for node, slots in self.inputs.items()
            for key, slot in slots.items()
        ]
        return {"nodes": nodes, "edges": edges, "version": 1}

    @property
    def model(self) -> str:
        """The model of the generation node."""
        return str(self.request["model"])


PUBLISHED: tuple[Workflow, ...] = (
    Workflow(
        id="7b1e4c2a-5f3d-4e8b-9a61-2c0d8f4e7a11",
        name="Product orbit",
        description="Animates a product still into a 5 s orbit, from a start and an end frame.",
        version=3,
        created="2026-11-20T09:00:00.000Z",
        inputs={
            "input-image": {"image": Slot("image", "promptImage", keyframe="first")},
            "style-frame": {"image": Slot("image", "promptImage", keyframe="last")},
            "prompt": {"text": Slot("primitive", "promptText", "a slow orbit, studio light")},
        },
        node="animate",
        node_name="Animate (seedance2_fast)",
        endpoint="image_to_video",
        request={"model": "seedance2_fast", "ratio": "1280:720", "duration": 5},
    ),
    Workflow(
        id="2c9d0e6f-81a4-4b3c-b5d7-9e0f1a2b3c44",
        name="Poster",
        description="One poster image from a headline.",
        version=1,
        created="2026-11-21T10:30:00.000Z",
        inputs={"headline": {"text": Slot("primitive", "promptText", "A poster")}},
        node="render",
        node_name="Render (gen4_image)",
        endpoint="text_to_image",
        request={"model": "gen4_image", "ratio": "1920:1080"},
    ),
)
"""The emulated account's published workflows."""


@dataclass(slots=True)
class _Invocation:
    id: str
    workflow: Workflow
    task_id: str
    created: float


class Workflows:
    """The account's published workflows and their invocations."""

    def __init__(self, account: Account, tasks: Tasks) -> None:
        """Workflows whose runs are tasks of ``tasks``."""
        self._account = account
        self._tasks = tasks
        self._by_id = {workflow.id: workflow for workflow in PUBLISHED}
        self._invocations: dict[str, _Invocation] = {}

    def listing(self) -> Reply:
        """``GET /v1/workflows``: each workflow with its versions, newest first."""
        data = [
            {
                "name": w.name,
                "versions": [{"id": w.id, "createdAt": w.created, "version": w.version}],
            }
            for w in PUBLISHED
        ]
        return Reply(200, {"data": data})

    def retrieve(self, workflow_id: str) -> Reply:
        """``GET /v1/workflows/{id}``."""
        w = self._by_id.get(workflow_id)
        if w is None:
            return error(404, "Workflow not found.")
        return Reply(
            200,
            {
                "id": w.id,
                "name": w.name,
                "description": w.description,
                "version": w.version,
                "createdAt": w.created,
                "updatedAt": w.created,
                "graph": w.graph(),
            },
        )

    def run(
        self,
        workflow_id: str,
        body: Any,
        base_url: str,
        create: Callable[[str, dict[str, Any]], Reply],
    ) -> Reply:
        """``POST /v1/workflows/{id}``: check ``nodeOutputs`` against the graph, then create
        the generation node's task with ``create`` (endpoint, body); the invocation's id."""
        w = self._by_id.get(workflow_id)
        if w is None:
            return error(404, "Workflow not found.")
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")
        given = body.get("nodeOutputs", {})
        issues = [
            Issue((name,), f"unknown field '{name}'") for name in body if name != "nodeOutputs"
        ]
        if not isinstance(given, dict):
            issues.append(Issue(("nodeOutputs",), "nodeOutputs must be an object"))
            given = {}
        values: dict[tuple[str, str], Any] = {}
        for node, outputs in given.items():
            slots = w.inputs.get(node)
            if slots is None:
                known = ", ".join(sorted(w.inputs))
                issues.append(
                    Issue(
                        ("nodeOutputs", node),
                        f"unknown node id '{node}' in workflow {w.id} (its input nodes: {known})",
                    )
                )
                continue
            if not isinstance(outputs, dict):
                issues.append(Issue(("nodeOutputs", node), "a node's outputs must be an object"))
                continue
            for key, value in outputs.items():
                found = _slot_issues(w, node, key, value, slots)
                issues += found
                if not found:
                    values[(node, key)] = value
        if issues:
            return invalid(issues)
        request = dict(w.request)
        frames: list[dict[str, Any]] = []
        places: dict[tuple[str | int, ...], tuple[str, ...]] = {}
        framed: list[tuple[str, ...]] = []
        for node, slots in w.inputs.items():
            for key, slot in slots.items():
                value = values.get((node, key))
                if value is None and slot.default is None:
                    if slot.keyframe == "first":
                        return invalid(
                            [
                                Issue(
                                    ("nodeOutputs", node, key),
                                    f"{node}.{key} has no default in workflow {w.id}: set it",
                                )
                            ]
                        )
                    continue
                content = (
                    slot.default
                    if value is None
                    else value["value"]
                    if slot.type == "primitive"
                    else value["uri"]
                )
                place = ("nodeOutputs", node, key, "value" if slot.type == "primitive" else "uri")
                if slot.keyframe is not None:
                    frames.append({"uri": content, "position": slot.keyframe})
                    framed.append(place)
                else:
                    request[slot.target] = content
                    places[(slot.target,)] = place
        if frames:
            request["promptImage"] = frames if len(frames) > 1 else frames[0]["uri"]
            many = len(frames) > 1
            places.update(
                {("promptImage", i) if many else ("promptImage",): p for i, p in enumerate(framed)}
            )
        reply = create(w.endpoint, request)
        if reply.status != 200:
            return _in_nodes(reply, places)
        with self._account.lock:
            invocation = _Invocation(new_id(), w, reply.data["id"], self._account.advance())
            self._invocations[invocation.id] = invocation
        return Reply(200, {"id": invocation.id})

    def task_ids(self, invocation_id: str) -> list[str]:
        """The tasks an invocation ran (its generation node's; none for an unknown id)."""
        invocation = self._invocations.get(invocation_id)
        return [invocation.task_id] if invocation is not None else []

    def invocation(self, invocation_id: str, base_url: str) -> Reply:
        """``GET /v1/workflow_invocations/{id}``: the node task's life, as an invocation."""
        invocation = self._invocations.get(invocation_id)
        if invocation is None:
            return error(404, "Workflow invocation not found.")
        reply = self._tasks.get(invocation.task_id, base_url)
        if reply.status != 200:
            return Reply(200, _view(invocation, {"status": "CANCELLED"}))
        return Reply(200, _view(invocation, reply.data))


def _slot_issues(
    w: Workflow, node: str, key: str, value: Any, slots: dict[str, Slot]
) -> list[Issue]:
    slot = slots.get(key)
    at = ("nodeOutputs", node, key)
    if slot is None:
        return [Issue(at, f"node '{node}' of workflow {w.id} has no output '{key}'")]
    if not isinstance(value, dict):
        return [Issue(at, "a node output must be an object with a type")]
    kind = value.get("type")
    if kind != slot.type:
        return [Issue((*at, "type"), f"{node}.{key} takes type '{slot.type}', not {kind!r}")]
    if slot.type == "primitive":
        if not isinstance(value.get("value"), str | int | float | bool):
            return [Issue((*at, "value"), "a primitive needs a string, number or boolean value")]
    elif not isinstance(value.get("uri"), str):
        return [Issue((*at, "uri"), f"an {slot.type} needs a uri")]
    return []


def _in_nodes(reply: Reply, places: dict[tuple[str | int, ...], tuple[str, ...]]) -> Reply:
    """A refusal of the node's task, each field named where the run set it (``places``: a
    field of the node's request -> its place in ``nodeOutputs``)."""
    data = reply.data if isinstance(reply.data, dict) else {}
    issues = []
    for issue in data.get("issues") or []:
        path = tuple(issue.get("path") or ())
        place = places.get(path[:2]) or places.get(path[:1])
        issues.append({**issue, "path": list(place) if place else list(path)})
    return Reply(reply.status, {**data, **({"issues": issues} if issues else {})}, reply.headers)


def _view(invocation: _Invocation, task: dict[str, Any]) -> dict[str, Any]:
    status = task.get("status", "PENDING")
    data: dict[str, Any] = {
        "id": invocation.id,
        "createdAt": iso(invocation.created),
        "status": status,
    }
    node = invocation.workflow.node
    if status == "RUNNING":
        data["progress"] = task.get("progress", 0.0)
        data["output"] = {}
    elif status == "SUCCEEDED":
        data["output"] = {node: list(task.get("output") or [])}
    elif status == "FAILED":
        data["failure"] = f"node {invocation.workflow.node_name} failed"
        code = task.get("failureCode")
        data["nodeErrors"] = {
            node: {
                "message": str(task.get("failure") or "the task failed"),
                "nodeName": invocation.workflow.node_name,
                **({"failureCode": code} if isinstance(code, str) else {}),
            }
        }
        if isinstance(code, str):
            data["failureCode"] = code
    if status in ("SUCCEEDED", "FAILED") and isinstance(task.get("cost"), dict):
        data["cost"] = {"credits": int(task["cost"].get("credits", 0))}
    return data
