"""Documents, voices and avatars as declarative resources: their desired state, plan and
reconciliation.

Runway's real-time avatars, their knowledge documents and custom voices are objects the API
keeps, not tasks.  A spec declares them (``documents:``, ``voices:``, ``avatars:``); this
package makes the remote objects match, as Terraform's plan and apply do.  A voice is cloned
from an audio sample (a local file, a URI or an ``@step`` output, identified by content like
an avatar's image) or designed from a text prompt; the API changes only its name and
description, so a changed sample or design makes the voice again (delete, then create), and
the avatars that name it (``voice: "@narrator"``) are updated with its new id.  A voice is
PROCESSING, then READY or FAILED, like an avatar:

* :func:`desired_state` (:mod:`.desired`) reads what the spec wants, from the graph's
  resource nodes (their texts rendered by the compiler): a document's name and content (inline or
  from a local file), an avatar's name, personality, voice, start script, image processing,
  the documents it attaches (by their remote ids) and its reference image, identified by
  content: an ``@step`` reference by the SHA-256 of the generation's output, a local file by
  the SHA-256 of its bytes, a URI by itself.
* :func:`compare` diffs a desired state against what the journal says was applied (or, with
  a refresh, what the API now holds): create, update (the fields that changed), unchanged.
* :func:`resource_plan` (:mod:`.changes`) is ``runway-plan plan``'s view: every resource
  against a state folder, and deletes for the resources recorded but gone from the spec.
  :func:`read_remote` reads the remote objects (``--live``) to show drift.
* :class:`Reconciler` (:mod:`.reconciler`) is ``run``'s: documents first, each avatar once the
  generation its image comes from is done, then what ``--prune`` removes.  Creates are journaled
  before they are sent (``creating``) and the id right after; a create whose outcome is unknown
  is looked up in the remote list by name and content before anything is created again (the API
  has no idempotency key), and what was found is reported.  Updates PATCH only the changed
  fields; an avatar waits for PROCESSING to end, and FAILED is reported with its reason.
  Nothing remote is deleted unless ``prune`` is asked for.

Resources are keyed by the spec's resource key within a scope of (spec name, API origin): the
spec's ``name`` is its identity, so moving the file keeps its resources, and results against
the emulator never mix with the real API's.
"""

from __future__ import annotations

from runway_plan.execute.resources.changes import read_remote, resource_plan
from runway_plan.execute.resources.desired import (
    KINDS,
    Desired,
    ImageSource,
    audio_source,
    comparable_remote,
    compare,
    desired_state,
    image_source,
)
from runway_plan.execute.resources.reconciler import Reconciler, ResourceOptions, ResourceResult

__all__ = [
    "KINDS",
    "Desired",
    "ImageSource",
    "Reconciler",
    "ResourceOptions",
    "ResourceResult",
    "audio_source",
    "comparable_remote",
    "compare",
    "desired_state",
    "image_source",
    "read_remote",
    "resource_plan",
]
