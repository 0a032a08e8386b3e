"""Local files a spec names: resolved, confined to the spec's root, and opened safely.

A spec is untrusted input.  Every local path it names (assets, knowledge documents) is resolved
and opened here, and nowhere else:

* relative paths start at the spec's folder;
* the *root* is the repository holding the spec (the nearest folder above it with a ``.git``),
  or the spec's folder outside a repository; ``--allow-path DIR`` adds folders;
* the path's real location (every symlink resolved) must lie under the root or an allowed
  folder;
* it must be a regular file, opened without following a symlink (``O_NOFOLLOW``) and without
  blocking (a FIFO is refused, never waited on), and its size is checked before anything is
  read.

A refusal (:class:`LocalFileError`) names the path as the spec wrote it and says nothing about
a file outside the root: not whether it exists, nor its type, size or content.

Writes (run state, lock, logs, store, outputs) go through :func:`make_folders` and
:func:`open_for_writing`: neither follows a symlink, so a symlink committed where runway-plan
writes (``outputs``, ``.runway-plan/.../lock``, ``run.log``) is an error that says what to
remove (:class:`SymlinkInTheWay`), never a write somewhere else.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runway_plan.errors import RunwayPlanError

__all__ = [
    "DOCUMENT_MAX_BYTES",
    "LocalFile",
    "LocalFileError",
    "NotText",
    "OutsideRoot",
    "Root",
    "SymlinkInTheWay",
    "find_root",
    "make_folders",
    "open_for_writing",
    "refuse_symlink",
    "sha256_file",
]

DOCUMENT_MAX_BYTES = 2_000_000
"""The largest knowledge document read (an avatar's knowledge is 50,000 tokens in all, which
no 2 MB text stays under)."""


class LocalFileError(RunwayPlanError):
    """A local path the spec names cannot be used (the message is safe to show)."""


class OutsideRoot(LocalFileError):
    """A local path the spec names lies outside its root (nothing about it was read)."""


class NotText(LocalFileError):
    """A knowledge document file is not UTF-8 text."""


class SymlinkInTheWay(OSError, RunwayPlanError):
    """Something runway-plan writes to is a symlink (or not what it should be)."""

    def __init__(self, path: Path, what: str = "a symlink") -> None:
        super().__init__(
            f"{path} is {what}; runway-plan does not write through it: remove it and run again"
        )
        self.path = path


def refuse_symlink(path: Path) -> None:
    """:class:`SymlinkInTheWay` when ``path`` is a symlink."""
    if os.path.islink(path):
        raise SymlinkInTheWay(path)


def make_folders(base: Path, target: Path) -> Path:
    """Make the folder ``target`` and the folders between ``base`` and it, one by one,
    refusing any that is a symlink or not a folder (:class:`SymlinkInTheWay`); ``base`` itself
    is the caller's (the spec's folder, or a folder given on the command line)."""
    base, target = Path(base).absolute(), Path(target).absolute()
    parts = target.parts
    if parts[: len(base.parts)] != base.parts:
        base = target.parent
    base.mkdir(parents=True, exist_ok=True)
    current = str(base)
    for part in parts[len(base.parts) :]:
        current = os.path.join(current, part)
        try:
            os.mkdir(current)
        except FileExistsError:
            info = os.lstat(current)
            if stat.S_ISLNK(info.st_mode):
                raise SymlinkInTheWay(Path(current)) from None
            if not stat.S_ISDIR(info.st_mode):
                raise SymlinkInTheWay(Path(current), "not a folder") from None
    return target


def open_for_writing(path: Path, *, append: bool = False, exclusive: bool = False) -> int:
    """A file descriptor to write ``path`` (created 0644 when missing; truncated unless
    ``append``; ``exclusive``: it must not exist), never through a symlink and only to a
    regular file (:class:`SymlinkInTheWay` otherwise)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    flags |= os.O_APPEND if append else 0
    flags |= os.O_EXCL if exclusive else 0
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SymlinkInTheWay(path) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SymlinkInTheWay(path, "not a regular file")
    if not append and not exclusive:
        os.ftruncate(fd, 0)
    return fd


def find_root(folder: Path) -> Path:
    """The repository holding ``folder`` (the nearest ancestor with ``.git``), or ``folder``."""
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate / ".git"):
            return candidate
    return folder


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A confined local file, open for reading: its real path, size and identity."""

    path: Path
    handle: io.BufferedReader
    size: int
    mtime_ns: int

    def read(self) -> bytes:
        """The whole file (its size was checked when it was opened)."""
        self.handle.seek(0)
        data = self.handle.read(self.size + 1)
        if len(data) != self.size:
            raise LocalFileError(f"'{self.path.name}' changed while it was read")
        return data

    def sha256(self) -> str:
        """SHA-256 of the content."""
        self.handle.seek(0)
        return _sha256_of(self.handle)


@dataclass(frozen=True)
class Root:
    """Where a spec may read local files.

    ``folder`` is the spec's own folder (relative paths start there), ``base`` the root
    (its repository, or ``folder``), ``allowed`` further folders the user opted in.  All are
    real paths.  ``confined`` False (the emulator's own temporary files) accepts any path.
    """

    folder: Path
    base: Path
    allowed: tuple[Path, ...] = ()
    confined: bool = True
    _resolved: dict[str, Path] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of_spec(cls, spec_path: str | Path, allow: Iterable[str | Path] = ()) -> Root:
        """The root of the spec at ``spec_path``, with the folders of ``allow`` opted in."""
        folder = Path(os.path.realpath(Path(spec_path).absolute().parent))
        allowed = tuple(Path(os.path.realpath(Path(p).absolute())) for p in allow)
        return cls(folder=folder, base=find_root(folder), allowed=allowed)

    @classmethod
    def anywhere(cls) -> Root:
        """A root that accepts absolute paths anywhere (for files runway-plan made itself)."""
        return cls(folder=Path("/"), base=Path("/"), confined=False)

    def local_path(self, value: str) -> Path | None:
        """The local path an asset string names (not yet checked), or None for a URI, a
        reference or an empty string."""
        if not value or "://" in value or value.startswith(("data:", "@")):
            return None
        path = Path(value)
        return path if path.is_absolute() else self.folder / path

    def contains(self, real: Path) -> bool:
        """True when the real path ``real`` lies under the root or an allowed folder."""
        if not self.confined:
            return True
        return any(real == top or real.is_relative_to(top) for top in (self.base, *self.allowed))

    def resolve(self, value: str, *, fresh: bool = False) -> Path:
        """The real path of the local file ``value`` names, once it is known to lie inside
        the root; :class:`LocalFileError` otherwise (or when ``value`` is not a path).
        Resolutions are remembered, unless ``fresh`` (the moment a file is sent)."""
        known = None if fresh else self._resolved.get(value)
        if known is not None:
            return known
        path = self.local_path(value)
        if path is None:
            raise LocalFileError(f"'{value}' is not a local path")
        if "\x00" in value:
            raise LocalFileError(f"'{value}' holds a NUL character")
        real = Path(os.path.realpath(path))
        if not self.contains(real):
            raise OutsideRoot(
                f"'{value}' is outside the spec's root {self.base}: a spec may only name files "
                "in its repository (or its folder); pass --allow-path DIR to allow another folder"
            )
        self._resolved[value] = real
        return real

    @contextlib.contextmanager
    def open(
        self, value: str, *, limit: int | None = None, fresh: bool = False
    ) -> Iterator[LocalFile]:
        """Open the local file ``value`` names, confined (see the module docstring), with
        its size checked against ``limit`` bytes before anything is read (``fresh``: resolve
        it anew, see :meth:`resolve`)."""
        real = self.resolve(value, fresh=fresh)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(real, flags)
        except OSError as exc:
            raise LocalFileError(_why(value, exc)) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise LocalFileError(f"'{value}' is not a regular file")
            if limit is not None and info.st_size > limit:
                raise LocalFileError(
                    f"'{value}' is {info.st_size:,} bytes; at most {limit:,} are read"
                )
            handle = os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise
        with handle:
            yield LocalFile(real, handle, info.st_size, info.st_mtime_ns)

    def read(self, value: str, *, limit: int) -> bytes:
        """The content of the local file ``value`` names (at most ``limit`` bytes)."""
        with self.open(value, limit=limit) as local:
            return local.read()

    def read_document(self, value: str) -> str:
        """The text of the knowledge document file ``value`` names: UTF-8, at most
        :data:`DOCUMENT_MAX_BYTES`; :class:`NotText` when it is not UTF-8."""
        data = self.read(value, limit=DOCUMENT_MAX_BYTES)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotText(f"'{value}' is not UTF-8 text (byte {exc.start})") from None


def _why(value: str, error: OSError) -> str:
    """A refusal for a path inside the root that could not be opened."""
    if error.errno == errno.ENOENT:
        return f"'{value}' does not exist"
    if error.errno == errno.ELOOP:
        return f"'{value}' became a symlink while it was checked"
    if error.errno == errno.ENAMETOOLONG:
        return f"'{value}' has a name too long for the file system"
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"'{value}' cannot be read (permission denied)"
    if error.errno == errno.EISDIR:
        return f"'{value}' is not a regular file"
    return f"'{value}' cannot be read ({error.strerror or 'error'})"


def _sha256_of(handle: io.BufferedReader) -> str:
    return hashlib.file_digest(handle, "sha256").hexdigest()


def sha256_file(path: Path, *, follow_symlinks: bool = False) -> str:
    """SHA-256 of a regular file's content (``hashlib.file_digest``): runway-plan's one file
    hasher.  ``OSError`` for anything but a regular file, and for a symlink unless
    ``follow_symlinks``."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return _sha256_of(handle)
