"""The content-addressed store of outputs, and the readable ``outputs/<step>/`` links to it.

Every downloaded output lands in ``<state>/store/sha256/ab/cdef...`` under its SHA-256, after
it was verified, written in full and synced; store files are made read-only, so editing a
linked copy in place fails instead of corrupting the store.  The readable tree
``outputs/<step>/<n>.<ext>`` (``n`` numbers the step's outputs as ``@step[n]`` does) holds hard
links to the store (copies across file systems).

The store never overwrites a file it did not write: when ``outputs/hero/0.png`` exists with
other content and the journal does not say the executor put it there for the same generation
of the same spec, the output is placed beside it as ``0.<sha256 prefix>.png`` and reported.

Nothing here follows a symlink: folders are made one by one from a base the caller trusts,
a symlink where an output goes is an error (:class:`~runway_plan.files.SymlinkInTheWay`), and
files are hashed only when they are regular files opened with ``O_NOFOLLOW``.

A stored file verified once need not be hashed again while its :func:`signature` (device,
inode, size, modification and change times) is the one recorded then: any write to it, a
``chmod`` or a reset modification time included, moves its change time, which no user can
set.  As git does for its index, a file changed within :data:`SETTLED_NS` of being verified is
not remembered (a change in the same clock tick would keep the same times).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import mimetypes
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import filetype

from runway_plan.files import SymlinkInTheWay, make_folders, sha256_file

__all__ = [
    "SETTLED_NS",
    "Placed",
    "Signature",
    "Store",
    "extension_for",
    "safe_extension",
    "sha256_file",
    "signature",
    "within",
]

Signature = tuple[int, int, int, int, int]
"""What :func:`signature` gives: device, inode, size, modification and change times (ns)."""
SETTLED_NS = 2_000_000_000
"""How long a stored file must have been left unchanged before its signature is remembered."""


def signature(info: os.stat_result) -> Signature:
    """The signature of a file's ``lstat``: equal while nobody changed the file."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/ogg": "ogg",
    "audio/mp4": "m4a",
    "audio/flac": "flac",
    "text/plain": "txt",
}


_EXTENSION = re.compile(r"[A-Za-z0-9]{1,16}")


def safe_extension(ext: str | None) -> str:
    """``ext`` as the extension of a file name; one that is not letters and digits (a state
    folder is untrusted: ``png/../../x`` would name another folder) is ``bin``."""
    return ext if ext is not None and _EXTENSION.fullmatch(ext) else "bin"


def within(path: Path | str, top: Path) -> bool:
    """True when ``path``, with its ``..`` resolved as text, lies under ``top``."""
    return Path(os.path.normpath(path)).is_relative_to(Path(os.path.normpath(top)))


def extension_for(url: str, mime: str | None, path: Path | None = None) -> str:
    """A file extension for an output: from its URL, else its media type, else its bytes."""
    suffix = Path(urlsplit(url).path).suffix.lstrip(".").lower()
    if suffix.isalnum() and 0 < len(suffix) <= 5:
        return suffix
    if mime:
        known = _EXTENSIONS.get(mime.lower()) or (mimetypes.guess_extension(mime) or "").lstrip(".")
        if known:
            return known
    if path is not None:
        kind = filetype.guess(str(path))
        if kind is not None:
            return str(kind.extension)
    return "bin"


@dataclass(frozen=True, slots=True)
class Placed:
    """Where an output was placed under ``outputs/``, and how.

    ``how``: ``created`` (a new file), ``present`` (already there with this content),
    ``replaced`` (an older output of the same generation, written by the executor, was
    replaced; it is still in the store) or ``beside`` (the wanted name holds a file the
    executor did not write, which was left alone).
    """

    path: Path
    how: str
    wanted: Path


class Store:
    """The store under ``root`` (``<state>/store``)."""

    def __init__(self, root: Path, seen: Mapping[str, Signature] | None = None) -> None:
        """``seen``: the signatures of stored files as they were when last verified (the
        journal's, :meth:`~runway_plan.execute.state.State.seen_files`)."""
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self._by_hash = self.root / "sha256"
        self.seen: dict[str, Signature] = dict(seen or {})
        self.verified: dict[str, Signature] = {}
        """The signatures of the files this store verified by their hash, to remember."""

    def path(self, sha256: str) -> Path:
        """Where content ``sha256`` lives."""
        return self._by_hash.joinpath(sha256[:2], sha256[2:])

    def has(self, sha256: str, size: int | None = None) -> bool:
        """True when content ``sha256`` is stored (and has ``size`` bytes, when given)."""
        try:
            info = os.lstat(self.path(sha256))
        except OSError:
            return False
        return stat.S_ISREG(info.st_mode) and (size is None or info.st_size == size)

    def read(self, sha256: str, size: int | None = None) -> bytes:
        """Stored content ``sha256``, verified: opened without following a symlink, a
        regular file of ``size`` bytes (when known) whose hash matches; ``OSError``
        otherwise."""
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
        with open(os.open(self.path(sha256), flags), "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or (size is not None and info.st_size != size):
                raise OSError(f"stored output {sha256[:12]} is not what was stored")
            data = handle.read(info.st_size + 1)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise OSError(f"stored output {sha256[:12]} no longer matches its hash")
        return data

    def verify(self, sha256: str) -> bool:
        """True when the stored content is a regular file that still hashes to ``sha256``
        (not hashed again while its signature is the one seen when it last did)."""
        path = self.path(sha256)
        try:
            info = os.lstat(path)
        except OSError:
            return False
        if not stat.S_ISREG(info.st_mode):
            return False
        if self.seen.get(sha256) == signature(info):
            return True
        if not _holds(path, path, sha256):
            return False
        if time.time_ns() - info.st_ctime_ns > SETTLED_NS:
            self.seen[sha256] = self.verified[sha256] = signature(info)
        return True

    def clean_scratch(self) -> int:
        """Remove partial downloads a killed run left behind; how many.  Call it only while
        holding the state's lock (no other run is downloading into this store)."""
        removed = 0
        with contextlib.suppress(OSError):
            for leftover in self.tmp.glob("*.part"):
                with contextlib.suppress(OSError):
                    leftover.unlink()
                    removed += 1
        return removed

    def scratch(self) -> Path:
        """A fresh temporary file name inside the store (same file system, for renames)."""
        make_folders(self.root.parent, self.tmp)
        return self.tmp / f"{uuid.uuid4().hex}.part"

    def ingest(self, scratch: Path, sha256: str) -> Path:
        """Move a verified, synced ``scratch`` file to its place; the stored path."""
        final = self.path(sha256)
        make_folders(self.root.parent, final.parent)
        if _holds(final, final, sha256):
            scratch.unlink(missing_ok=True)
        else:
            os.replace(scratch, final)  # replaces whatever was there, a symlink included
            _sync_dir(final.parent)
        os.chmod(final, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH, follow_symlinks=False)
        return final

    def adopt(self, source: Path, sha256: str) -> bool:
        """Restore content ``sha256`` into the store from a copy (an ``outputs/`` file)."""
        scratch = self.scratch()
        try:
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with open(fd, "rb") as handle, open(scratch, "wb") as copy:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise OSError(errno.EINVAL, "not a regular file", str(source))
                shutil.copyfileobj(handle, copy)
            if sha256_file(scratch) != sha256:
                scratch.unlink(missing_ok=True)
                return False
        except OSError:
            scratch.unlink(missing_ok=True)
            return False
        self.ingest(scratch, sha256)
        return True

    def place(
        self,
        sha256: str,
        target: Path,
        may_replace: Callable[[Path], bool],
        base: Path | None = None,
    ) -> Placed:
        """Make ``target`` hold content ``sha256`` without overwriting a file not ours.

        ``may_replace(target)`` says whether an existing ``target`` with other content was
        written by the executor for this same generation (and may be replaced).  The folders
        from ``base`` (default: the target's folder) down are made without following a
        symlink; a symlink at ``target`` is :class:`~runway_plan.files.SymlinkInTheWay`.
        """
        source = self.path(sha256)
        make_folders(base if base is not None else target.parent, target.parent)
        try:
            found: os.stat_result | None = os.lstat(target)
        except OSError:
            found = None
        if found is not None and stat.S_ISLNK(found.st_mode):
            raise SymlinkInTheWay(target)
        if found is not None:
            if _holds(target, source, sha256):
                return Placed(target, "present", target)
            if target.is_file() and may_replace(target):
                _install(source, target, replace=True)
                return Placed(target, "replaced", target)
            beside = target.with_name(f"{target.stem}.{sha256[:12]}{target.suffix}")
            if os.path.islink(beside):
                raise SymlinkInTheWay(beside)
            if os.path.lexists(beside):
                if _holds(beside, source, sha256):
                    return Placed(beside, "beside", target)
                beside = target.with_name(f"{target.stem}.{sha256}{target.suffix}")
                if os.path.lexists(beside) and _holds(beside, source, sha256):
                    return Placed(beside, "beside", target)
            _install(source, beside, replace=False)
            return Placed(beside, "beside", target)
        _install(source, target, replace=False)
        return Placed(target, "created", target)


def _holds(path: Path, source: Path, sha256: str) -> bool:
    """True when ``path`` is a regular file (not a symlink) with content ``sha256``."""
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            return False
        if path != source:
            known = os.lstat(source)  # the same file (a hard link), neither a symlink
            if stat.S_ISLNK(known.st_mode):
                return sha256_file(path) == sha256
            if (info.st_dev, info.st_ino) == (known.st_dev, known.st_ino):
                return True
        return sha256_file(path) == sha256
    except OSError:
        return False


def _install(source: Path, target: Path, *, replace: bool) -> None:
    """Hard-link (or copy) ``source`` to ``target`` atomically."""
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        try:
            os.link(source, temporary)
        except OSError:
            shutil.copyfile(source, temporary)
        if replace:
            os.replace(temporary, target)
        else:
            try:
                os.link(temporary, target)
            except FileExistsError:
                raise
            except OSError:
                shutil.copyfile(temporary, target)
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()
    _sync_dir(target.parent)


def _sync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
