"""A succeeded task's outputs: downloaded into the store (a fresh URL from the task when one
expired), verified, linked under ``outputs/<step>/``, and the generation settled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from tenacity import AsyncRetrying, RetryError, retry_if_exception_type, stop_after_attempt

from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic, make
from runway_plan.execute.client import (
    RunwayClient,
    TaskNotFound,
    TransferFailed,
    Unavailable,
    UrlExpired,
    strip_query,
)
from runway_plan.execute.runner.inputs import fresh_url
from runway_plan.execute.runner.records import Records
from runway_plan.execute.runner.results import GenerationResult, OutputFile, RunOptions
from runway_plan.execute.runner.spans import step_span
from runway_plan.execute.state import Outcome, OutputRow, State, StepRow, StepStatus
from runway_plan.execute.store import Store, extension_for, safe_extension, sha256_file, within
from runway_plan.files import SymlinkInTheWay

__all__ = ["URL_TRIES", "DownloadFailed", "Outputs"]

URL_TRIES = 3
"""Downloads of one output, each with a fresh URL from its task after the last expired."""


class DownloadFailed(Exception):
    """An output could not be downloaded; the message says why."""


class Outputs:
    """Downloads and links the outputs of one run's tasks (see the module docstring)."""

    def __init__(
        self,
        graph: Graph,
        client: RunwayClient,
        state: State,
        store: Store,
        options: RunOptions,
        spec_path: str,
        diagnostics: list[Diagnostic],
        emit: Callable[[str, str | None, str], None],
        sleep: Callable[[float], Awaitable[None]],
        *,
        records: Records,
        numbers: Mapping[tuple[str, int], int],
        remake: Callable[[str, GenerationResult, StepRow], Awaitable[None]],
    ) -> None:
        """``diagnostics`` (the run's) receives RP508 and RP516; ``sleep`` is the run's clock;
        ``numbers`` gives each (generation, output index) its number in the step; ``remake``
        attempts a generation again (its outputs were lost with its task, --retry-failed)."""
        self.graph = graph
        self.client = client
        self.state = state
        self.store = store
        self.options = options
        self.spec_path = spec_path
        self.diagnostics = diagnostics
        self._emit = emit
        self._sleep = sleep
        self._downloads = asyncio.Semaphore(max(1, options.download_concurrency))
        self.records = records
        self._numbers = numbers
        self._remake = remake

    async def collect(self, key: str, result: GenerationResult, row: StepRow, reused: bool) -> None:
        """Make every output of a succeeded task stored, verified and linked; settle."""
        gen = self.graph.generations[key]
        result.status = "downloading"
        recorded = self.state.outputs(row.id)
        fetched = False
        for out in recorded:
            if self.stored(out.sha256):
                continue
            fetched = True
            if reused:
                self._emit("download", key, f"output {out.index} missing: fetching it again")
            try:
                await self.fetch(row, out)
            except TaskNotFound:
                if self.options.retry_failed:
                    self._emit("note", key, "outputs lost with their task: made again")
                    self.state.reset(row.id)
                    row = self.state.step_by_id(row.id)
                    await self._remake(key, result, row)
                    return
                self._download_failed(
                    key,
                    result,
                    f"task {row.task_id} no longer exists, and its outputs are neither "
                    "in the store nor under outputs/ (--retry-failed makes it again, "
                    "and pays again)",
                )
                return
            except DownloadFailed as exc:
                self._download_failed(key, result, str(exc))
                return
        settled = row.status is StepStatus.SUCCEEDED
        if not settled:
            self.state.mark_succeeded(row.id)
        self.records.refresh(result, row if settled and not fetched else None)
        result.outputs = []
        for out in recorded if not fetched else self.state.outputs(row.id):
            assert out.sha256 is not None
            number = self._numbers.get((key, out.index), out.index)
            assert self.records.run_id is not None
            path = self.link(key, gen.step, number, out.sha256, out.ext, run_id=self.records.run_id)
            result.outputs.append(
                OutputFile(out.index, number, out.sha256, out.size or 0, out.mime, path)
            )
        outcome = Outcome.REUSED if reused else Outcome.GENERATED
        self._emit(
            "reused" if reused else "done",
            key,
            ", ".join(o.path or o.sha256 for o in result.outputs) or "no outputs",
        )
        self.records.settle(result, outcome)

    def _download_failed(self, key: str, result: GenerationResult, reason: str) -> None:
        message = (
            f"an output of '{key}' could not be downloaded: {reason} (the task is paid and "
            "recorded; rerun to try the download again)"
        )
        self.records.fail(result, "RP506", message)

    def stored(self, sha256: str | None) -> bool:
        """True when the content ``sha256`` is in the store, verified (or put back there from
        a file this run's outputs folder links to it)."""
        return sha256 is not None and (self.store.verify(sha256) or self._restore(sha256))

    async def fetch(self, row: StepRow, out: OutputRow) -> None:
        """Download output ``out`` of the succeeded task of ``row`` into the store.

        A recorded URL is used while fresh; after it (or a fresh one) expires, the task is read
        again for a new one, ``URL_TRIES`` downloads in all.  Raises
        :class:`~runway_plan.execute.client.TaskNotFound` when the task is gone, and
        :class:`DownloadFailed` otherwise."""
        url = (
            out.url
            if out.url and fresh_url(out.url, out.url_at, self.options.url_fresh_seconds)
            else None
        )
        retrying = AsyncRetrying(
            sleep=self._sleep,
            stop=stop_after_attempt(URL_TRIES),
            retry=retry_if_exception_type(UrlExpired),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if url is None or attempt.retry_state.attempt_number > 1:
                        url = await self._task_url(row, out.index)
                    await self._download(row.id, out.index, url, out.sha256)
        except RetryError:
            raise DownloadFailed("its URL kept expiring") from None
        except TransferFailed as exc:
            raise DownloadFailed(str(exc)) from None

    async def _task_url(self, row: StepRow, index: int) -> str:
        try:
            task = await self.client.task(row.task_id or "")
        except Unavailable as exc:
            raise DownloadFailed(f"cannot fetch the task again: {exc}") from None
        urls = task.get("output") if task.get("status") == "SUCCEEDED" else None
        if not isinstance(urls, list) or len(urls) <= index:
            raise DownloadFailed("the task lists no such output")
        self.state.refresh_urls(row.id, urls)
        return str(urls[index])

    def _restore(self, sha256: str) -> bool:
        """Put content back into the store from a file the executor linked it to (under
        this run's outputs folder only: the journal may have been written by someone else)."""
        top = self.options.outputs_dir.absolute()
        for path, digest in self.state.links():
            if digest != sha256 or not within(path, top):
                continue
            if self.store.adopt(Path(path), sha256):
                return True
        return False

    async def _download(self, step_id: int, index: int, url: str, expected: str | None) -> None:
        async with self._downloads:
            scratch = self.store.scratch()
            try:
                got = await self.client.download(url, scratch)
                if expected is not None and got.sha256 != expected:
                    raise TransferFailed(
                        f"{strip_query(url)}: content changed (sha256 {got.sha256[:12]}, "
                        f"recorded {expected[:12]})"
                    )
                ext = extension_for(url, got.mime, scratch)
                self.store.ingest(scratch, got.sha256)
            finally:
                with contextlib.suppress(OSError):
                    scratch.unlink()
        self.state.record_output(
            step_id, index, sha256=got.sha256, size=got.size, ext=ext, mime=got.mime
        )

    def link(
        self, key: str, step: str, number: int, sha256: str, ext: str | None, *, run_id: int
    ) -> str | None:
        """Place a stored output as ``outputs/<step>/<number>.<ext>`` (beside a file that is not
        ours) and record the link; its path, or None when it could not be placed."""
        top = self.options.outputs_dir.absolute()
        target = top / step / f"{number}.{safe_extension(ext)}"
        if not within(target, top):
            self._emit("note", key, f"an output's recorded name leaves {top}: not placed")
            return None

        def ours(path: Path) -> bool:
            owner = self.state.link_owner(str(path))
            if owner is None or owner[1] != self.spec_path or owner[2] != key:
                return False
            try:
                return sha256_file(path) == owner[0]
            except OSError:
                return False

        try:
            placed = self.store.place(sha256, target, ours, base=self.options.outputs_base)
        except SymlinkInTheWay as exc:
            gen = self.graph.generations[key]
            self.diagnostics.append(make("RP516", str(exc), step_span(self.graph, gen.step)))
            return None
        except OSError as exc:
            self._emit("note", key, f"could not place output in {target.parent}: {exc}")
            return None
        if placed.how != "present" or self.state.link_owner(str(placed.path)) is None:
            self.state.record_link(str(placed.path), sha256, self.spec_path, key, run_id)
        if placed.how == "beside":
            gen = self.graph.generations[key]
            self.diagnostics.append(
                make(
                    "RP508",
                    f"{target} holds a file runway-plan did not write; the output of '{key}' "
                    f"was saved beside it as {placed.path.name}",
                    step_span(self.graph, gen.step),
                )
            )
        return str(placed.path)
