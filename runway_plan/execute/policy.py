"""What to do with a FAILED task, by its failure code.

Sources: https://docs.dev.runwayml.com/errors/task-failures/ (the ``SAFETY.*`` and
``INTERNAL.BAD_OUTPUT.*`` rules), and runwayml/skills ``skills/rw-api-reference/SKILL.md``
(retries and refunds of the other codes; read 2026-11-24).

=================================  ===========  =========  ==================================
failure code                       retried      refunded   why
=================================  ===========  =========  ==================================
``SAFETY.INPUT.*``                 never        no         moderation refused the input;
                                                           repeats risk the account
``INPUT_PREPROCESSING.SAFETY.*``   never        yes        the prompt was refused
``SAFETY.OUTPUT.*``                never        yes        change the prompt (sources differ)
``INTERNAL.BAD_OUTPUT.*``          never        yes        change the prompt or the input
``ASSET.INVALID``                  never        yes        fix the input
``INPUT_PREPROCESSING.INTERNAL``   yes, later   yes        the moderation system failed
``THIRD_PARTY.UNAVAILABLE``        yes, later   yes        the model's provider is down
``INTERNAL``, none, unknown codes  yes, later   yes        a transient failure
=================================  ===========  =========  ==================================

"Retried" means within a run, up to the step's ``retry.max_attempts`` (3 by default), after a
delay that grows with each attempt; a later run tries a transient failure again, and a
permanent one only with ``--retry-failed`` (or when the step's fingerprint changes).
Whatever happens, each attempt's ``cost`` is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_ATTEMPTS", "Decision", "decide", "retry_on_rerun"]

DEFAULT_MAX_ATTEMPTS = 3

_NEVER: tuple[tuple[str, str], ...] = (
    ("SAFETY.INPUT", "the input did not pass moderation, and such failures are not refunded"),
    ("INPUT_PREPROCESSING.SAFETY", "the prompt did not pass moderation"),
    ("SAFETY.OUTPUT", "the output did not pass moderation: change the prompt"),
    ("INTERNAL.BAD_OUTPUT", "the output failed quality checks: change the prompt or input"),
    ("ASSET.INVALID", "an input asset does not meet the model's requirements"),
)
_SLOW: tuple[str, ...] = ("THIRD_PARTY.UNAVAILABLE",)


def _matches(code: str, prefix: str) -> bool:
    return code == prefix or code.startswith(prefix + ".")


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether to try again, after how long (seconds of API time), and why."""

    retry: bool
    delay: float
    reason: str


def decide(code: str | None, attempt: int, max_attempts: int) -> Decision:
    """The decision after attempt number ``attempt`` (from 1) FAILED with ``code``."""
    code = code or "INTERNAL"
    for prefix, why in _NEVER:
        if _matches(code, prefix):
            return Decision(False, 0.0, f"not retried: {why}")
    if attempt >= max_attempts:
        return Decision(False, 0.0, f"gave up after {attempt} attempts")
    slow = any(_matches(code, prefix) for prefix in _SLOW)
    delay = (30.0 if slow else 10.0) * 2 ** (attempt - 1)
    return Decision(True, delay, f"retrying (attempt {attempt + 1} of {max_attempts})")


def retry_on_rerun(code: str | None) -> bool:
    """True when a later run should try a step whose last attempt failed with ``code``.

    Rejected requests (``HTTP 4xx``, nothing made or charged), cancelled and vanished tasks,
    and transient failures are tried again; permanent failure codes are not.
    """
    if code is None:
        return True
    return not any(_matches(code, prefix) for prefix, _ in _NEVER)
