"""Large specs for the benchmarks in the three shapes a 10,000-generation pipeline takes,
and the benchmarks' shared timer (:func:`best_of`).

* ``fan_out_strings``: one step fanned out over a list of 10,000 prompt strings;
* ``fan_out_records``: the same over 10,000 small mappings (``{subject, angle}``);
* ``many_steps``: 10,000 separate steps, no templates.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_HEADER = """version: 1
name: {name}
tier: 5
"""

_HERO = """  hero:
    endpoint: text_to_image
    model: gen4_image
    promptText: a lighthouse on a cliff
    ratio: "1920:1080"
"""

_FAN_OUT = """  shot:
    for_each: "{{{{ shots }}}}"
    endpoint: image_to_video
    model: gen4_turbo
    promptImage: "@hero"
    promptText: "{prompt}"
    ratio: "1280:720"
    duration: 5
"""


def fan_out_strings(n: int) -> str:
    """A fan-out over ``n`` prompt strings."""
    shots = "".join(f"    - 'lighthouse at dusk, angle {i % 360}, take {i}'\n" for i in range(n))
    return (
        _HEADER.format(name="fan-out-strings")
        + "vars:\n  shots:\n"
        + shots
        + "steps:\n"
        + _HERO
        + _FAN_OUT.format(prompt="{{ item }}, slow dolly-in")
    )


def fan_out_records(n: int) -> str:
    """A fan-out over ``n`` mappings, each item's fields used in the prompt."""
    shots = "".join(
        f"    - {{subject: lighthouse at dusk take {i}, angle: {i % 360}}}\n" for i in range(n)
    )
    return (
        _HEADER.format(name="fan-out-records")
        + "vars:\n  shots:\n"
        + shots
        + "steps:\n"
        + _HERO
        + _FAN_OUT.format(prompt="{{ item.subject }}, camera at {{ item.angle }} degrees")
    )


def many_steps(n: int) -> str:
    """``n`` separate steps: a still and ``n - 1`` clips of it."""
    steps = "".join(
        f"  shot_{i}:\n"
        "    endpoint: image_to_video\n"
        "    model: gen4_turbo\n"
        '    promptImage: "@hero"\n'
        f"    promptText: shot {i}, slow dolly-in\n"
        '    ratio: "1280:720"\n'
        "    duration: 5\n"
        for i in range(n - 1)
    )
    return _HEADER.format(name="many-steps") + "steps:\n" + _HERO + steps


SHAPES = {
    "fan-out of strings": fan_out_strings,
    "fan-out of records": fan_out_records,
    "10,000 steps": many_steps,
}


def best_of(repeat: int, action: Callable[[], object]) -> float:
    """The shortest of ``repeat`` timings of ``action``, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)
