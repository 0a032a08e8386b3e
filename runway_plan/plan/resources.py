"""What a run would do with the spec's documents, voices and avatars: the data ``plan`` reports.

A voice whose ``from`` (its audio sample or design) changed is an ``update`` whose ``from``
field says the voice is made again: the API changes only a voice's name and description.

The planner never reads the run state or the API: :mod:`runway_plan.execute.resources`
compares the graph's resource nodes with the state (and, with ``--live``, with the remote
objects) and hands a :class:`ResourcePlan` to :func:`runway_plan.plan.plan`
(``PlanOptions.resources``), which puts it on the plan the reports render.

Actions, as Terraform names them: ``create``, ``update`` (with the fields that change),
``unchanged`` and ``delete`` (a resource recorded in the state but gone from the spec; ``run``
deletes it only with ``--prune``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ACTIONS", "ResourceChange", "ResourceField", "ResourcePlan"]

ACTIONS = ("create", "update", "unchanged", "delete")
"""Every action, in the order reports count them."""


@dataclass(frozen=True, slots=True)
class ResourceField:
    """One field a run would change: its value before and after, as shown to people.

    ``old`` is None for a field the remote object does not have yet, ``new`` None for one a
    run would remove.  Long texts are abbreviated; ``detail`` says what changed in them
    (``+3 -1 lines``), or why the new value is not known before the run.
    """

    name: str
    old: str | None
    new: str | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """What a run would do with one document or avatar.

    ``kind`` is ``document``, ``voice`` or ``avatar``; ``key`` the spec's key; ``name`` the
    object's name (the spec's, or the recorded one for a delete).  ``remote_id`` is the id
    recorded in the state; ``status`` an avatar's or a voice's processing status as last seen
    (PROCESSING, READY, FAILED).  ``drift`` lists what ``--live`` found changed or deleted
    remotely; ``notes`` the rest worth saying (a create in doubt, a delete that needs ``--prune``).
    """

    kind: str
    key: str
    name: str
    action: str
    remote_id: str | None = None
    status: str | None = None
    fields: tuple[ResourceField, ...] = ()
    drift: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResourcePlan:
    """Every resource of a spec against a run state.

    ``source`` names the state folder and API origin; ``live`` is True when the remote
    objects were read (drift); ``notes`` are problems met while reading them.
    """

    source: str
    live: bool
    changes: tuple[ResourceChange, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def counts(self) -> dict[str, int]:
        """How many resources per action (every action present, zeros included)."""
        counts = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            counts[change.action] = counts.get(change.action, 0) + 1
        return counts

    @property
    def drifted(self) -> int:
        """Resources that ``--live`` found changed or deleted remotely."""
        return sum(1 for change in self.changes if change.drift)
