"""Files every stage writes the same way: content hashes, atomic writes, staging folders, the run lock,
and finding input files by suffix.

An output appears complete or not at all: it is written to a hidden temporary name beside its final one,
flushed to disk (``fsync``) and renamed over it; on failure the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from common.errors import HebatronError

__all__ = [
    "InputError",
    "RunLocked",
    "atomic_write",
    "expand_files",
    "file_sha256",
    "run_lock",
    "staging_dir",
    "swap_into_place",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]


class RunLocked(HebatronError, RuntimeError):
    """Another hebatron command holds the run directory."""


class InputError(HebatronError, FileNotFoundError):
    """An input path that does not exist or holds no file of the expected kinds."""


def file_sha256(path: Path | str) -> str:
    """PATH's sha256: a local file, or an fsspec URL (``is_url``) read through its file system."""
    with open_url(path) if is_url(path) else open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """For writers that take a path (pyarrow, tokenizers, matplotlib): yields a temporary path beside PATH
    that is fsynced and renamed over PATH on success, removed on failure."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_write(path: Path | str, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Open a hidden temporary file beside PATH (``atomic_path``); on success it is fsynced and renamed over
    PATH, on an exception it is removed and PATH is untouched. ``mode`` is ``"w"`` (text, UTF-8 by default)
    or ``"wb"``."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as tmp, open(tmp, mode, **open_kwargs) as fh:
        yield fh


def write_text_atomic(path: Path | str, text: str) -> None:
    with atomic_write(path, "w", newline="\n") as fh:
        fh.write(text)


def write_bytes_atomic(path: Path | str, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def write_json_atomic(path: Path | str, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


@contextlib.contextmanager
def staging_dir(run_dir: Path, name: str) -> Iterator[Path]:
    """A fresh ``RUN/.<name>.tmp-<pid>`` (left-overs of crashed runs are removed first), deleted on exit
    unless its contents were moved out."""
    for stale in run_dir.glob(f".{name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = run_dir / f".{name}.tmp-{os.getpid()}"
    tmp.mkdir(parents=True)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def swap_into_place(new: Path, final: Path) -> None:
    """Replace directory ``final`` with the complete directory ``new`` (same file system): two renames,
    so readers see the old tree or the new one, never a half-written one (at worst, briefly, none)."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(new, final)
    _fsync_dir(final.parent)
    shutil.rmtree(old, ignore_errors=True)


#: File descriptors of the run locks this process holds; a forked child lets go of its copies (below).
_held_locks: set[int] = set()


def _drop_inherited_locks() -> None:
    """In a forked child: stop sharing the parent's run locks. A ``flock`` belongs to the open file, which a
    fork shares, so a helper process that outlived its command would keep the run locked. ``/dev/null`` is
    put in place of each descriptor, so the child's inherited file objects still close cleanly."""
    if not _held_locks:
        return
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    for fd in _held_locks:
        os.dup2(null, fd, inheritable=False)
    os.close(null)
    _held_locks.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_inherited_locks)


@contextlib.contextmanager
def run_lock(run_dir: Path, *, name: str = ".lock") -> Iterator[None]:
    """One hebatron command at a time per run directory: a second one refuses instead of corrupting the first.
    Take it before reading anything of the run, so a refusal is always this one line. The lock is held by
    this process alone: it is not inherited by programs it starts (close-on-exec) or processes it forks,
    so it ends when the command does, whatever helpers are left. ``RUN/NAME`` holds the holder's pid.
    A command that fails in a directory it created (a check refused it) leaves no directory behind."""
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / name
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(
                f"{run_dir} is in use by another hebatron command (lock {path}); "
                "wait for it to finish or use another -o"
            ) from None
        _held_locks.add(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        try:
            yield
        except BaseException:
            if created and [p.name for p in run_dir.iterdir()] == [name]:
                path.unlink(missing_ok=True)  # still locked: a command waiting on it fails the same check
                with contextlib.suppress(OSError):
                    run_dir.rmdir()
            raise
    finally:
        _held_locks.discard(fd)
        os.close(fd)


def has_suffix(name: str, suffixes: Iterable[str]) -> bool:
    return name.lower().endswith(tuple(suffixes))


def expand_files(
    paths: Iterable[Path | str],
    suffixes: Iterable[str],
    *,
    what: str = "input",
    empty_folder: str | None = None,
    strict: bool = True,
    skipped: list[Path] | None = None,
) -> list[Path]:
    """The files named by PATHS, in the order given: a file is taken as it is (with ``strict``, only if it
    has one of SUFFIXES), a folder gives its files with one of SUFFIXES (recursively, sorted). Duplicates
    are dropped. ``InputError`` names a path that does not exist (``"<what> not found: PATH"``), a file of
    another kind, and (when EMPTY_FOLDER names the folder, e.g. ``"anchor folder"``) a folder without such files.
    A folder's files of other kinds are appended to SKIPPED, when given (sorted), so the caller can name them."""
    suffixes = tuple(s.lower() for s in suffixes)
    listed = ", ".join(suffixes)
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            every = sorted(p for p in path.rglob("*") if p.is_file())
            found = [p for p in every if has_suffix(p.name, suffixes)]
            if skipped is not None:
                skipped += [p for p in every if not has_suffix(p.name, suffixes)]
            if not found and empty_folder:
                raise InputError(f"{path}: {empty_folder} holds no {listed} files")
            files += found
        elif path.is_file():
            if strict and not has_suffix(path.name, suffixes):
                raise InputError(f"{path}: unsupported {what} (expected one of {listed})")
            files.append(path)
        else:
            raise InputError(f"{what} not found: {path}")
    seen: set[Path] = set()
    out = []
    for f in files:
        if (key := f.resolve()) not in seen:
            seen.add(key)
            out.append(f)
    return out


def is_url(path: Path | str) -> bool:
    """Whether PATH names a file system by protocol (``s3://``, ``gs://``, ``hf://``, ``https://``): a ``Path``
    never does (it would have dropped the ``//``)."""
    return isinstance(path, str) and "://" in path


def open_url(url: str, mode: str = "rb", **kwargs: Any) -> IO:
    """URL opened through fsspec (``compression="infer"`` reads ``.gz`` and the like as their content);
    closing it closes every layer."""
    import fsspec

    return fsspec.open(url, mode, **kwargs).open()


def expand_urls(urls: Iterable[str], suffixes: Iterable[str], *, what: str = "input") -> tuple[Any, dict[str, dict]]:
    """The objects that fsspec URLS name, on one file system: ``(fs, {path: info})`` sorted by path, where a
    URL is an object (taken if it has one of SUFFIXES), a prefix (its objects with one of SUFFIXES, recursively)
    or a glob (``s3://b/p/*.jsonl.gz``: its matches with one of SUFFIXES). Each info holds what the storage
    reports (``size``, an etag). ``InputError`` names a URL that names nothing, no such object, or that cannot be
    read (no backend, no credentials, no connection), and URLs on different file systems."""
    from fsspec.core import url_to_fs

    suffixes = tuple(s.lower() for s in suffixes)
    listed = ", ".join(suffixes)
    fs, first, objects = None, None, {}
    for url in urls:
        try:
            url_fs, path = url_to_fs(url)
            if fs is not None and url_fs is not fs:
                raise InputError(f"{url} and {first} are on different file systems; give them separately")
            fs, first = url_fs, first or url
            if any(c in path for c in "*?["):
                found = url_fs.glob(path, detail=True)
            elif url_fs.isfile(path):
                if not has_suffix(path, suffixes):
                    raise InputError(f"{url}: unsupported {what} (expected one of {listed})")
                found = {path: url_fs.info(path)}
            elif url_fs.isdir(path):
                found = url_fs.find(path, detail=True)
            else:
                raise InputError(f"{what} not found: {url}")
        except InputError:
            raise
        except Exception as e:  # noqa: BLE001 - whatever the storage raises, the user sees the URL and why
            raise InputError(f"cannot read {url}: {type(e).__name__}: {e}") from None
        matched = {p: i for p, i in found.items() if i.get("type") != "directory" and has_suffix(p, suffixes)}
        if not matched:
            raise InputError(f"no {what} files ({listed}) in {url}")
        objects.update(matched)
    return fs, dict(sorted(objects.items()))
