"""Files that hold patient data or secrets are this user's alone: folders 0700, files 0600.

The modes are set when spinecare creates a file, not left to the umask (a common umask of 022
makes files world-readable). A database file found open to others is narrowed when opened.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("spinecare.store")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with the folder itself 0700; an existing folder
    is left as it is (it may be shared on purpose, like ``/tmp``)."""
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(PRIVATE_DIR)
    return path


def private_file(path: Path) -> int:
    """Open ``path`` for writing, created (or truncated) with mode 0600; a file descriptor."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)  # an existing file keeps its mode through O_CREAT
    return fd


def narrow(path: Path) -> None:
    """Take group and other permissions off an existing file of ours."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if stat.S_IMODE(mode) & 0o077:
        try:
            path.chmod(stat.S_IMODE(mode) & 0o700)
        except PermissionError:
            log.warning("%s is readable by other users and is not ours to change", path)


def sqlite_files(database: Path) -> None:
    """Before SQLite opens ``database``: its folder private if new, the file created 0600 (its
    journal files take the database file's mode), an existing one narrowed to 0600."""
    private_dir(database.parent)
    if not database.exists():
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for suffix in ("", "-wal", "-shm", "-journal"):
        narrow(database.with_name(database.name + suffix))
