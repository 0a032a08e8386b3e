"""The ``runway-plan`` process: ``python -m runway_plan`` and the console script.

Ctrl-C ends it quietly with code 130 at any moment: while its modules are imported (before a
command could catch it), while a command runs (:mod:`runway_plan.cli.app` maps
``KeyboardInterrupt`` to 130), and while the interpreter shuts down after the command.

The process does not look for pydantic plugins (``PYDANTIC_DISABLE_PLUGINS``, unless the
environment already sets it): the search reads the metadata of every installed distribution
on each start, and no plugin has a part in runway-plan.  A process-wide choice, so made here at
the command line's edge only (its child processes, git and ffmpeg, inherit it): the library,
imported by a host, leaves its plugins alone.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

_INTERRUPTED = 130  # runway_plan.cli.app.EXIT_INTERRUPTED, not importable before the handler


def _exit_now(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C outside a command: there is nothing to clean up or report."""
    os._exit(_INTERRUPTED)


def _run() -> None:
    from runway_plan.cli import main as command_line

    command_line()


def main() -> None:
    """Run the command line: import it, then let the command handle Ctrl-C."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        _run()  # Ctrl-C is ignored (a background job) or handled by a host: leave it so
        return
    signal.signal(signal.SIGINT, _exit_now)
    try:
        from runway_plan import cli  # noqa: F401  (the imports, which Ctrl-C ends at once)

        signal.signal(signal.SIGINT, signal.default_int_handler)
        _run()
    except KeyboardInterrupt:
        sys.exit(_INTERRUPTED)  # in the instant between the imports and the command
    finally:
        signal.signal(signal.SIGINT, _exit_now)


if __name__ == "__main__":
    main()
