"""Shared fixtures. Test data lives in tests/data (copied from the project's shared contract)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Property tests check behaviour, not speed: a loaded two-core CI machine must not fail them on
# hypothesis's per-example deadline. Speed is measured by the benchmarks (make bench).
# Locally each run draws new examples (and keeps failures in .hypothesis to replay); in CI the
# draw is derandomized, so a submission's result does not depend on luck. A property that fails
# for some seed is a bug: reproduce with --hypothesis-seed=N locally.
settings.register_profile("spinecare", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None,
                          print_blob=True)
settings.load_profile(os.environ.get("SPINECARE_HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI") else "spinecare"))

DATA = Path(__file__).parent / "data"

# Compiled knowledge goes to the project's .cache (ignored by git), not the user's home; every
# process the tests start inherits it.
os.environ.setdefault("SPINECARE_CACHE_DIR",
                      str(Path(__file__).resolve().parent.parent / ".cache" / "code"))
CASES = DATA / "cases"


@pytest.fixture(scope="session", autouse=True)
def _default_engine_first() -> None:
    """The packaged knowledge's engine, built before any test changes the environment: a test
    that points the cache elsewhere or turns the native build off (monkeypatch) must not decide
    what every later test in the process gets from ``default_engine()``."""
    from spinecare.reasoning.engine import default_engine

    default_engine()


def broken_copy(source: Path, target: Path, file: str, old: str, new: str) -> Path:
    """A copy of the knowledge folder ``source`` at ``target`` with one edit in ``file``: the
    first ``old`` replaced by ``new`` (which must be there, so a stale test fails loudly)."""
    import shutil

    shutil.copytree(source, target)
    path = target / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return target


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def case_schema() -> dict[str, Any]:
    from importlib.resources import files

    return json.loads(files("spinecare.schemas").joinpath("case.schema.json").read_text())


@pytest.fixture(scope="session")
def assessment_schema() -> dict[str, Any]:
    from importlib.resources import files

    return json.loads(files("spinecare.schemas").joinpath("assessment.schema.json").read_text())
