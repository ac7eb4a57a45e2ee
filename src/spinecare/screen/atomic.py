"""Files that appear whole or not at all.

Every file ``spinecare screen`` writes (the Parquet output, the report, the worklists, the side
file of rejected rows) is written under a temporary name in its own folder and renamed over
its real name only once complete: a run stopped by Ctrl-C, by ``kill`` or by a crash leaves no
half-written file under the real name.

On Linux the temporary file has no name at all until it is complete (``O_TMPFILE``): a process
killed outright (``kill -9``, the out-of-memory killer) leaves nothing behind, not even a
temporary file, because the kernel frees a nameless file when its last descriptor closes.
Elsewhere, or for writers that need a path (a DuckDB or Spark query writing the output itself),
the temporary file is a hidden sibling, ``.NAME.PID.partial``, removed on any exception and
on SIGTERM; one left by a killed run is removed by the next run into the same folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import BinaryIO

PARTIAL = ".partial"


class Interrupted(BaseException):
    """The run was asked to stop (SIGTERM); what was being written has been removed.

    A BaseException, as KeyboardInterrupt is: the signal lands wherever the run happens to be,
    and code there that turns its own failures into errors (the engine names the rule whose
    line failed) must let a stop pass through, not report it as that code's failure."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def terminate_as_exception() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Interrupted` (as Ctrl-C raises
    KeyboardInterrupt), so every ``finally`` runs and temporary files are removed."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals as they are
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _partial_name(final: Path) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}{PARTIAL}")


def remove_stale_partials(final: Path) -> None:
    """Remove the hidden temporary files that killed runs left for ``final``."""
    prefix = f".{final.name}."
    folder = final.parent
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            name = entry.name
            if not (name.startswith(prefix) and name.endswith(PARTIAL)):
                continue
            pid = name[len(prefix):-len(PARTIAL)]
            if pid.isdigit() and not _alive(int(pid)):
                _remove(entry)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """A hidden temporary path beside ``final`` for a writer that needs a name; renamed over
    ``final`` when the block ends normally, removed otherwise. Works for folders too (Spark
    writes a Parquet data set as a folder)."""
    final = Path(final)
    remove_stale_partials(final)
    temp = _partial_name(final)
    _remove(temp)
    try:
        yield temp
        if not temp.exists():
            raise FileNotFoundError(f"the writer made no {final}")
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        os.replace(temp, final)
    finally:
        _remove(temp)


@contextlib.contextmanager
def atomic_file(final: str | Path) -> Iterator[BinaryIO]:
    """A binary file object whose content becomes ``final`` when the block ends normally.

    Nothing appears under ``final`` before then; on an exception nothing is left anywhere."""
    final = Path(final)
    folder = final.parent if str(final.parent) else Path(".")
    fd = _nameless(folder)
    if fd is None:
        with atomic_path(final) as temp, open(temp, "wb") as fh:
            yield fh
        return
    fh = os.fdopen(fd, "wb")
    try:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
        # link the nameless file under a temporary name, then rename it over the real one
        # (linkat cannot replace an existing file)
        temp = Path(tempfile.mktemp(prefix=f".{final.name}.", suffix=PARTIAL, dir=folder))
        _link_nameless(fh.fileno(), temp)
        try:
            os.replace(temp, final)
        except BaseException:
            _remove(temp)
            raise
    finally:
        fh.close()


def _link_nameless(fd: int, path: Path) -> None:
    """Give the nameless file ``fd`` the name ``path``: linkat(2) following the descriptor's
    /proc link (os.link calls link(2), which would link the /proc entry itself)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, at_symlink_follow = -100, 0x400
    if libc.linkat(at_fdcwd, f"/proc/self/fd/{fd}".encode(), at_fdcwd, os.fsencode(path),
                   at_symlink_follow) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno), str(path))


def _nameless(folder: Path) -> int | None:
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o644)
    except OSError:  # a file system without O_TMPFILE support
        return None
