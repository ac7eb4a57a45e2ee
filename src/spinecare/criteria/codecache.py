"""Compiled knowledge kept on disk between runs, as Python keeps modules in ``__pycache__``.

The assessment's generated function is about 2,200 lines; compiling it took about a fifth of a
second at every start of ``spinecare`` (a third of a single ``spinecare assess``). A compiled
code object is kept under the hash of its source, its file name and the interpreter's bytecode
magic number, so a changed knowledge file, a changed generator or another Python never finds an
entry: nothing is ever invalidated, only left unused, and the oldest are removed beyond
:data:`KEEP`.

Where: ``$SPINECARE_CACHE_DIR`` (``off`` or empty: no cache), else ``$XDG_CACHE_HOME/spinecare``,
else ``~/.cache/spinecare``. Loading code is running code, so an entry is read only from a folder
and a file that belong to this user and that no one else may write; anything wrong with the
folder or an entry (missing, unreadable, truncated, another user's) means compiling afresh, and a
folder that cannot be written means not keeping the result: the cache can only save time.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import marshal
import os
import stat
import tempfile
import time
from pathlib import Path
from types import CodeType

ENV = "SPINECARE_CACHE_DIR"
#: Entries kept (the newest by last use): one per knowledge version and generator in use.
KEEP = 16
_MAGIC = importlib.util.MAGIC_NUMBER
_SUFFIX = ".code"


def folder() -> Path | None:
    """Where compiled programs are kept, or None when the cache is off."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return Path(chosen) if chosen.strip() and chosen.strip().lower() != "off" else None
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    try:
        root = Path(base) if base else Path.home() / ".cache"
    except RuntimeError:  # no home directory to be found
        return None
    return root / "spinecare" / "code"


def compiled(source: str, filename: str) -> CodeType:
    """``compile(source, filename, "exec")``, from the cache when an entry is there."""
    where = folder()
    if where is None:
        return compile(source, filename, "exec")
    key = hashlib.sha256(_MAGIC + filename.encode() + b"\0" + source.encode()).hexdigest()
    path = where / (key + _SUFFIX)
    code = _load(path, filename)
    if code is None:
        code = compile(source, filename, "exec")
        _keep(where, path, code)
    return code


def private(st: os.stat_result) -> bool:
    """Owned by this user and writable by no one else (always true where there are no uids)."""
    if not hasattr(os, "getuid"):
        return True
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _load(path: Path, filename: str) -> CodeType | None:
    try:
        if not private(path.parent.stat()):
            return None
        with path.open("rb") as f:
            if not private(os.fstat(f.fileno())):
                return None
            data = f.read()
        if not data.startswith(_MAGIC):
            return None
        code = marshal.loads(data[len(_MAGIC):])
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(code, CodeType) or code.co_filename != filename:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # last use: what pruning keeps
    return code


def _keep(where: Path, path: Path, code: CodeType) -> None:
    """Write ``code`` to ``path`` whole or not at all (a temporary file renamed), then prune."""
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not private(where.stat()):
            return
        fd, temporary = tempfile.mkstemp(dir=where, prefix=".tmp-", suffix=_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_MAGIC + marshal.dumps(code))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _prune(where)
    except OSError:
        return


def _prune(where: Path) -> None:
    entries = []
    for entry in where.glob("*" + _SUFFIX):
        try:
            changed = entry.stat().st_mtime
        except OSError:
            continue  # removed by another process meanwhile
        if entry.name.startswith(".tmp-"):
            # left by a process stopped while writing (another may be writing one now)
            if changed < time.time() - 3600:
                entry.unlink(missing_ok=True)
            continue
        entries.append((changed, entry))
    entries.sort(reverse=True)
    for _, old in entries[KEEP:]:
        old.unlink(missing_ok=True)
