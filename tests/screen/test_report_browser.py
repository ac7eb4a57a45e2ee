"""The screen's HTML report in a real browser (Debian's chromium through Playwright, as the web
tests drive it): its counts and worklists agree with the Parquet output, its charts are drawn,
nothing is fetched from anywhere, and axe-core finds no serious accessibility problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from spinecare.cli import main
from spinecare.screen.report import WORKLISTS
from tests.screen.population import care_of, population, write_parquet

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason="needs Debian's chromium (make test installs it)"),
    pytest.mark.skipif(not AXE.exists(),
                       reason="needs axe-core in .cache/npm (make test installs it)"),
]


@pytest.fixture(scope="module")
def screened(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("report")
    cases = population(3)
    src = write_parquet(folder / "in.parquet", cases)
    code = main(["screen", str(src), "--out", str(folder / "out.parquet"), "--engine",
                 "python", "--report", str(folder / "report.html"), "--batch-size", "10"])
    assert code == 0
    return {"folder": folder, "rows": pq.read_table(folder / "out.parquet").to_pylist()}


@pytest.fixture(scope="module")
def page(screened: dict[str, Any]) -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        context.set_default_timeout(10_000)
        requested: list[str] = []
        page = context.new_page()
        page.on("request", lambda r: requested.append(r.url))
        page.goto((screened["folder"] / "report.html").as_uri())
        page.requested = requested
        yield page
        browser.close()


def expected(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each worklist's case ids from the Parquet output and the input's care columns."""
    out: dict[str, list[str]] = {w.id: [] for w in WORKLISTS}
    for i, row in enumerate(rows):
        referral, plan = care_of(i)
        dcm = row["band.degenerative_cervical_myelopathy"] in ("high", "moderate")
        lss = row["band.lumbar_spinal_stenosis"] in ("high", "moderate")
        if row["triage"] in ("emergency", "urgent") and referral is not True:
            out["open_red_flags"].append(row["case_id"])
        if dcm and referral is not True:
            out["dcm_without_referral"].append(row["case_id"])
        if lss and plan is not True:
            out["stenosis_without_plan"].append(row["case_id"])
    return out


def test_the_reports_worklists_are_those_of_the_parquet_output(
        page: Any, screened: dict[str, Any]) -> None:
    want = expected(screened["rows"])
    for w in WORKLISTS:
        shown = page.locator(f"#{w.id} tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.case)")
        assert shown == want[w.id], w.id
        heading = page.locator(f"#{w.id}-title").inner_text()
        assert f"({len(want[w.id])})" in heading
    assert all(want.values())


def test_every_worklist_row_shows_the_findings_behind_it(page: Any) -> None:
    cells = page.locator(".worklist tbody tr td:last-child").all_inner_texts()
    assert cells and all(c.strip() and c != "none recorded" for c in cells), cells


def test_the_counts_by_triage_level_add_up_to_the_output(
        page: Any, screened: dict[str, Any]) -> None:
    rows = screened["rows"]
    for level in ("emergency", "urgent", "routine", "self_care"):
        cell = page.locator(f'#triage-counts tr[data-level="{level}"] td').first.inner_text()
        assert int(cell.replace(",", "")) == sum(r["triage"] == level for r in rows), level
    assert page.locator("#rows").inner_text() == f"{len(rows):,}"


def test_the_charts_are_drawn_inline_and_nothing_is_fetched(page: Any) -> None:
    charts = page.locator("figure.chart svg")
    assert charts.count() == 2
    for i in range(2):
        box = charts.nth(i).bounding_box()
        assert box and box["width"] > 200 and box["height"] > 100
    assert [u for u in page.requested if not u.startswith("file://")] == []


def test_axe_finds_no_serious_problem_in_the_report(page: Any) -> None:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
             .map(v => ({id: v.id, impact: v.impact,
                         nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 3)}))""")
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, bad
