"""The generated program built as a native extension (Cython, then the C compiler), when built.

The assessment's generated function is plain Python over locals; run by the interpreter, each of
its seven thousand-odd bytecodes a case is dispatched one by one. Compiled by Cython from the
*same source*, the same tests of ``is True`` / ``is None`` become C comparisons and branches,
and a case costs about a third less in that function (a batch 14-23% less time). Nothing
about the meaning changes: it is the same source, so the plain reference and the property test
that holds the two equal judge it as they judge the Python one (``make test`` builds it first).

Building is a step of its own (``spinecare knowledge native``, run by ``make test`` and
``make bench``), since it needs Cython and a C compiler and takes about a minute; the program
then loads it whenever its source is the one built, and otherwise runs the Python function as
before: a changed knowledge file, generator or interpreter simply finds no extension.

Where: the compiled-code cache's folder (:mod:`spinecare.criteria.codecache`), under
``native``; an extension is loaded only from a folder and a file that belong to this user and
that no one else may write (loading it runs it). ``SPINECARE_NATIVE=off`` never loads one.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from spinecare.criteria import codecache
from spinecare.errors import SpinecareError

ENV = "SPINECARE_NATIVE"
#: The C compiler's optimisation: -O1 gives what -O2 gives here (within 2%), in half the time
#: (about a minute against two and a half for the assessment); -O0 was slower than Python.
C_FLAGS = ("-O1", "-fPIC", "-shared", "-fwrapv", "-fno-strict-aliasing", "-DNDEBUG", "-w")
# Part of every key: changing how an extension is built or loaded retires the old ones.
_FORMAT = b"spinecare-native/1"
# The extensions loaded in this process, by key, each with the namespace it was given. An
# extension's globals belong to the file it was loaded from (loading a file again gives the same
# module), so a program with the same source but other values (another engine's bound methods)
# gets a private copy of the file, loaded as a module of its own; at most MAX_COPIES a source.
_loaded: dict[str, list[tuple[ModuleType, dict[str, Any]]]] = {}
MAX_COPIES = 8


class NativeBuildError(SpinecareError, RuntimeError):
    """The extension could not be built (no Cython, no compiler, or they failed)."""


def _suffix() -> str:
    return importlib.machinery.EXTENSION_SUFFIXES[0]


def key(source: str) -> str:
    """The name an extension of ``source`` is kept under (and its module's name's tail)."""
    data = _FORMAT + b"\0" + _suffix().encode() + b"\0" + source.encode()
    return hashlib.sha256(data).hexdigest()[:40]


def _module_name(k: str) -> str:
    return f"spinecare_native_{k}"


def folder() -> Path | None:
    """Where extensions are kept, or None when the cache is off."""
    where = codecache.folder()
    return None if where is None else where / "native"


def path(source: str) -> Path | None:
    """Where the extension of ``source`` is (or would be) kept."""
    where = folder()
    return None if where is None else where / (_module_name(key(source)) + _suffix())


def enabled() -> bool:
    return os.environ.get(ENV, "").strip().lower() != "off"


def load(source: str, namespace: Mapping[str, Any]) -> ModuleType | None:
    """The built extension of ``source`` with ``namespace`` as its globals (the constants and
    helpers the generated code reads), or None when there is none to use."""
    if not enabled():
        return None
    where = path(source)
    if where is None:
        return None
    k = key(source)
    given = dict(namespace)
    loaded = _loaded.setdefault(k, [])
    for module_before, before in loaded:
        if before == given:
            return module_before
    if len(loaded) >= MAX_COPIES:
        return None
    module: ModuleType | None
    try:
        if not codecache.private(where.parent.stat()) or not codecache.private(where.stat()):
            return None
        if not loaded:
            module = _import(k, where)
        else:
            fd, name = tempfile.mkstemp(dir=where.parent, prefix=".tmp-", suffix=_suffix())
            copy = Path(name)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(where.read_bytes())
                module = _import(k, copy)
            finally:
                copy.unlink(missing_ok=True)  # what was loaded stays mapped
    except (OSError, ImportError):
        return None
    if module is None:
        return None
    vars(module).update(given)
    loaded.append((module, given))
    return module


def _import(k: str, where: Path) -> ModuleType | None:
    spec = importlib.util.spec_from_file_location(_module_name(k), where)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if getattr(module, "SOURCE_KEY", None) != k or not callable(getattr(module, "_program", None)):
        return None
    return module


def build(source: str, names: Iterable[str]) -> Path:
    """Build the extension of ``source`` (whose code reads the globals ``names``) into the
    cache, whole or not at all; returns where it is. An extension already there is kept."""
    target = path(source)
    if target is None:
        raise NativeBuildError(f"the compiled-code cache is off ({codecache.ENV}): nowhere to "
                               "keep an extension")
    if target.exists():
        _prune(target.parent, keep=target)
        return target
    try:
        import Cython  # noqa: F401  (a build-time tool: only this step needs it)
    except ImportError:
        raise NativeBuildError("Cython is not installed (it is in requirements-dev.txt)") from None
    k = key(source)
    name = _module_name(k)
    # Cython needs to know every global the code reads: each is declared, then given its
    # value when the extension is loaded.
    header = ["# cython: language_level=3", *(f"{n} = None" for n in sorted(set(names)))]
    text = "\n".join(header) + "\n" + source + f"\nSOURCE_KEY = {k!r}\n"
    include = sysconfig.get_paths()["include"]
    compiler = shlex.split(sysconfig.get_config_var("CC") or "cc")
    where = target.parent
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not codecache.private(where.stat()):
            raise NativeBuildError(f"{where} is not private to this user")
        # built beside its place, so the finished file is renamed into it in one step (a
        # rename cannot cross file systems, and a half-written extension is never seen)
        with tempfile.TemporaryDirectory(dir=where, prefix=".tmp-build-") as tmp:
            py, c, so = (Path(tmp) / f"{name}{ext}" for ext in (".py", ".c", _suffix()))
            py.write_text(text)
            _run([sys.executable, "-m", "cython", "-3", "--fast-fail", str(py), "-o", str(c)],
                 "Cython")
            _run([*compiler, *C_FLAGS, f"-I{include}", str(c), "-o", str(so)],
                 "the C compiler")
            os.chmod(so, 0o700)
            os.replace(so, target)
    except OSError as exc:
        raise NativeBuildError(f"cannot keep the extension in {where}: {exc}") from None
    _prune(target.parent, keep=target)
    return target


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise NativeBuildError(f"{what} could not be run: {exc}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-20:]
        raise NativeBuildError(f"{what} failed (exit {done.returncode}):\n" + "\n".join(tail))


#: A build folder or a loading copy older than this was left by a process that was killed
#: (a build takes minutes, a copy is deleted as soon as it is loaded).
STALE = 3600.0


def _prune(where: Path, keep: Path) -> None:
    """Keep the newest :data:`codecache.KEEP` extensions (one per knowledge version in use),
    and remove what killed builds and loads left behind."""
    now = time.time()
    for left in where.glob(".tmp-*"):
        with contextlib.suppress(OSError):
            if now - left.lstat().st_mtime > STALE:
                if left.is_dir() and not left.is_symlink():
                    shutil.rmtree(left)
                else:
                    left.unlink()
    entries = []
    for entry in where.glob("spinecare_native_*" + _suffix()):
        with contextlib.suppress(OSError):
            entries.append((entry.stat().st_mtime, entry))
    entries.sort(reverse=True)
    for _, old in entries[codecache.KEEP:]:
        if old != keep:
            old.unlink(missing_ok=True)
