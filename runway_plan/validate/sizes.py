"""Free ``W:H`` sizes: a value against its field's pattern and pixel area, with the size
scaled into the area as the hint."""

from __future__ import annotations

import math
import re
from typing import Any

from runway_plan.catalog.model import FieldPatch
from runway_plan.diagnostics import Diagnostic, Location, make
from runway_plan.source import DataPath
from runway_plan.validate import describe

LARGEST_SIDE = 10**12
"""A side of a ``W:H`` size written with more digits is taken as this many pixels."""


def free_size(
    value: str,
    patch: FieldPatch,
    listed: tuple[Any, ...],
    subject: str,
    at: DataPath,
    location: Location,
) -> list[Diagnostic]:
    """A free-text value against its patch's ``pattern`` and, for a ``W:H`` size, its
    ``pixel_area``; the message names the form and area ``subject`` allows and the ``listed``
    values."""
    area = patch.pixel_area
    form = (f"one of its {len(listed)} listed sizes or " if listed else "") + (
        "a free size 'W:H' (width:height in pixels)"
    )
    if area is not None:
        form += f" with an area of {area[0]:,} to {area[1]:,} pixels"
    nearest = describe.nearest(value, listed) if listed else None
    pattern_fails = patch.pattern is not None and not re.search(patch.pattern, value)
    if not pattern_fails and area is None:
        return []
    size = None if pattern_fails else parse_size(value)
    if size is None or area is None:
        example = nearest if nearest is not None else (listed[0] if listed else None)
        return [
            make(
                "RP207",
                f"{describe.label(at)} '{value}' is not a size {subject} takes: {form}",
                location,
                hint=f"for example {describe.show(example)}" if example is not None else None,
            )
        ]
    width, height = size
    pixels = width * height
    if area[0] <= pixels <= area[1]:
        return []
    fitted = scaled(width, height, area)
    hints = [f"scale it to '{fitted[0]}:{fitted[1]}'"] if fitted else []
    if nearest is not None:
        hints.append(f"use the listed {describe.show(nearest)}")
    shown = f"{pixels:,}" if pixels < LARGEST_SIDE else f"more than {area[1]:,}"
    return [
        make(
            "RP208",
            f"{describe.label(at)} '{value}' is {shown} pixels; {subject} takes {form}",
            location,
            hint=" or ".join(hints) or None,
        )
    ]


def parse_size(value: str) -> tuple[int, int] | None:
    """Width and height of a ``W:H`` size string (None: not two whole numbers)."""
    match = re.fullmatch(r"([0-9]+):([0-9]+)", value)
    if match is None:
        return None
    sides = (match[1].lstrip("0") or "0", match[2].lstrip("0") or "0")
    width, height = (int(side) if len(side) <= 12 else LARGEST_SIDE for side in sides)
    return width, height


def scaled(width: int, height: int, area: tuple[int, int]) -> tuple[int, int] | None:
    """``width:height`` scaled, keeping its aspect ratio, into the pixel ``area`` (None when
    no whole size of that shape fits)."""
    if width < 1 or height < 1:
        return None
    pixels = width * height
    factor = math.sqrt((area[0] if pixels < area[0] else area[1]) / pixels)
    round_to = math.ceil if pixels < area[0] else math.floor
    fitted = (max(1, round_to(width * factor)), max(1, round_to(height * factor)))
    return fitted if area[0] <= fitted[0] * fitted[1] <= area[1] else None
