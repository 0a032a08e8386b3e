"""The live progress display of ``run`` on a terminal."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from decimal import Decimal

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from runway_plan.compile import Graph
from runway_plan.diagnostics.display import display
from runway_plan.execute import (
    Event,
    Execution,
    Outcome,
)
from runway_plan.plan.cost import format_credits

__all__ = ["ProgressDisplay"]


class ProgressDisplay:
    """Progress: a live table on a terminal, plain log lines otherwise (on standard error)."""

    def __init__(self, graph: Graph, console: Console, *, live: bool) -> None:
        self.graph = graph
        self.console = console
        self.live = live
        self.execution: Execution | None = None
        self.started = time.monotonic()
        self._live: Live | None = None
        self.gone = False

    def event(self, event: Event) -> None:
        """Show ``event``; once the reader of the output has gone, show nothing more (a
        closed pipe must not fail the generation whose event it was)."""
        if self.gone:
            return
        try:
            self._show(event)
        except (BrokenPipeError, ValueError):  # ValueError: a write to a closed file
            self.gone = True

    def _show(self, event: Event) -> None:
        if self._live is not None:
            if event.kind in ("failed", "unknown", "interrupt", "note", "cancelled"):
                shown = f"{display(event.key or 'run')}: {display(event.message)}"
                self._live.console.print(Text(shown))
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
        key, message = display(event.key or "-"), display(event.message)
        self.console.file.write(f"{stamp} {event.kind:<9} {key}: {message}\n")

    def _render(self) -> Group:
        execution = self.execution
        table = Table(show_edge=False, header_style="bold", box=None, pad_edge=False)
        table.add_column("step")
        table.add_column("done", justify="right")
        table.add_column("status")
        table.add_column("billed", justify="right")
        if execution is None:
            return Group(table)
        for name, node in self.graph.steps.items():
            items = [execution.results[k] for k in node.generations if k in execution.results]
            done = sum(r.outcome in (Outcome.GENERATED, Outcome.REUSED) for r in items)
            states: dict[str, int] = {}
            for r in items:
                label = r.status if r.outcome is Outcome.PLANNED else r.outcome.value
                states[label] = states.get(label, 0) + 1
            billed = sum((r.billed_this_run for r in items), Decimal(0))
            failed = any(r.outcome in (Outcome.FAILED, Outcome.UNKNOWN) for r in items)
            table.add_row(
                name,
                f"{done}/{len(items)}",
                ", ".join(f"{n} {s}" for s, n in sorted(states.items())),
                format_credits(billed),
                style="red" if failed else ("green" if done == len(items) else ""),
            )
        progress = execution.progress()
        elapsed = time.monotonic() - self.started
        header = Text(
            f"{format_credits(progress['billed'])} of up to "
            f"{format_credits(progress['planned'])} credits · elapsed {elapsed:.0f}s · "
            f"ETA {progress['eta']:.0f}s",
            style="bold",
        )
        return Group(header, table)

    @contextlib.contextmanager
    def running(self, execution: Execution) -> Iterator[None]:
        self.execution = execution
        if not self.live:
            yield
            return
        with Live(
            get_renderable=self._render,
            console=self.console,
            refresh_per_second=4,
            transient=False,
        ) as live:
            self._live = live
            try:
                yield
            finally:
                self._live = None
