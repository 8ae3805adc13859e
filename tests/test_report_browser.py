"""The report in a real browser: Debian's headless Chromium (``/usr/bin/chromium``, installed by
``.ci/run``) driven by Playwright for Python, on both backends. The page must load with no console
or page error and no request but its own file (every other one is blocked and counted), every
image must decode, and its tables must have as many rows as the catalogue's SQL counts.

``OBSCAT_REPORT_SCREENSHOT=1`` also writes the top of the page to docs/figures/report.png (the
README's picture; the SQLite run writes it). Playwright's own browser download
(``playwright install``) is never used.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from conftest import REPO, TUTORIAL_CONE, sky_cone, unavailable

CHROMIUM = Path(os.environ.get("OBSCAT_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOT = REPO / "docs" / "figures" / "report.png"
TUTORIAL = sky_cone(*TUTORIAL_CONE)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium; missing, it skips the test (fails it under CI=true)."""
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


def _count(catalog, statement: str, **params) -> int:
    return int(catalog.sql(statement, params)[0][0])


def test_the_report_in_chromium(hess, browser, db_url, tmp_path):
    hess.split("zenith", "zen_pnt_deg", selection=TUTORIAL)
    hess.cluster("irf", ["edisp-res", "psf-radius"], energy_true="1 TeV", selection=TUTORIAL, n_groups=2,
                 position=SkyCoord(329.71693826 * u.deg, -30.2255890 * u.deg))  # fmt: skip
    hess.match("pairs", "object('PKS 2155*')", "not object('PKS 2155*')", preset="hess-runmatch")
    path = hess.report(tmp_path / "report.html")
    url = path.as_uri()

    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    console, errors, blocked, requested = [], [], [], []
    page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requested.append(request.url))

    def only_the_file(route) -> None:
        if route.request.url == url:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_file)
    page.goto(url, wait_until="load")
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")  # the member tables
    assert (console, errors, blocked) == ([], [], [])
    assert [r for r in requested if not r.startswith("data:")] == [url]

    images = page.evaluate("[...document.images].map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight,"
                           " i.getBoundingClientRect().width])")  # fmt: skip
    assert len(images) == path.read_text().count("<img ") == 8
    assert all(complete and width > 0 and height > 0 and shown > 0 for _, complete, width, height, shown in images), images

    rows = page.evaluate("[...document.querySelectorAll('table[data-table]')].map(t => "
                         "[t.dataset.table, t.dataset.name || '', t.tBodies[0].rows.length])")  # fmt: skip
    expected = [["stores", "", _count(hess, "SELECT count(*) FROM data_store")],
                ["targets", "", _count(hess, "SELECT count(DISTINCT coalesce(object, '')) FROM observation")]]  # fmt: skip
    member = "FROM group_member m JOIN grouping g ON g.id = m.grouping_id WHERE g.name = :n"
    pair = "FROM match_pair p JOIN grouping g ON g.id = p.grouping_id WHERE g.name = :n"
    for name, method in hess.sql("SELECT name, method FROM grouping ORDER BY name"):
        expected.append(["groups", name, _count(hess, f"SELECT count(DISTINCT m.label) {member}", n=name)])
        if method == "match":
            expected.append(["pairs", name, _count(hess, f"SELECT count(*) {pair}", n=name)])
        expected.append(["members", name, _count(hess, f"SELECT count(*) {member}", n=name)])
    assert rows == expected and ["pairs", "pairs"] in [r[:2] for r in rows]

    if os.environ.get("OBSCAT_REPORT_SCREENSHOT") and db_url.startswith("sqlite"):
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = false)")
        page.evaluate("document.body.style.zoom = '0.6'")
        page.screenshot(path=SCREENSHOT)
    page.close()
