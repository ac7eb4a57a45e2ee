"""What the browser tests in this folder share: one Debian chromium per test module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Imported here: collecting the other tests of this folder needs neither Playwright nor the
    # browser tests' module.
    playwright_api = pytest.importorskip("playwright.sync_api")
    from tests.web.test_browser import CHROMIUM, LAUNCH_ARGS

    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()
