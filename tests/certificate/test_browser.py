"""The pages in a real browser: Playwright driving Debian's headless `chromium`.

Runs against: `/usr/bin/chromium` (installed by `make browser`; these tests skip, saying
so, where it is absent) through Playwright's `executable_path`, never a browser Playwright
downloads; the pages rendered from the simulated portfolio (conftest) opened from disk;
axe-core from npm (`package.json`, resolved by node as `require` does).
Checked: no console error, no request but the page itself, the grade and every hazard in
the text, exactly one A4 page in print media, a screenshot of the expected size, and no
serious or critical accessibility violation.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from livability.certificate import publish
from tests.certificate.conftest import WEEKS, Portfolio
from tests.support.paths import ROOT

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (`make browser` installs it where apt-get runs "
    "as root): the certificates' browser tests need it",
)
A4_WIDTH_PX = 794  # 210 mm at 96 px per inch
VIEWPORT = {"width": A4_WIDTH_PX, "height": 1123}


def axe_script() -> Path:
    """axe-core's browser bundle, found as node's `require.resolve` finds it."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: it locates axe-core (npm, package.json)")
    found = subprocess.run(
        [node, "-p", "require.resolve('axe-core/axe.min.js')"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    if found.returncode != 0:
        pytest.skip("axe-core is not installed: run `npm ci` (make node_modules/.installed)")
    return Path(found.stdout.strip())


@pytest.fixture(scope="module")
def pages(portfolio: Portfolio, tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = portfolio.warehouse()
    try:
        result = publish.week_pages(warehouse, WEEKS[-1])
    finally:
        warehouse.close()
    return publish.write_folder(tmp_path_factory.mktemp("pages"), result).parent


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Visit:
    """A page opened from disk, with every console error and request it made."""

    def __init__(self, browser: object, path: Path) -> None:
        self.page = browser.new_page(viewport=VIEWPORT)  # type: ignore[attr-defined]
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else 0)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url, wait_until="load")

    def text(self) -> str:
        return re.sub(r"\s+", " ", str(self.page.inner_text("body")))


def pdf_pages(pdf: bytes) -> int:
    """Page objects of a PDF (Chromium writes them uncompressed: `/Type /Page`)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def home_files(pages: Path) -> list[Path]:
    return sorted(p for p in pages.iterdir() if p.name != publish.INDEX)


def test_each_certificate_renders_quietly_and_says_its_grade_and_hazards(
    browser: object, pages: Path
) -> None:
    for path in home_files(pages):
        visit = Visit(browser, path)
        assert visit.errors == [], path.name
        assert visit.requests == [visit.url], f"{path.name} requested {visit.requests}"
        text = visit.text()
        assert re.search(r"Grade [A-G], score \d+\.\d|Not graded this week", text), path.name
        for hazard in ("Cold", "Heat", "Damp and mould", "Comfort"):
            assert f"{hazard} " in text, (path.name, hazard)
        visit.page.close()


def test_a_certificate_prints_on_exactly_one_a4_page(
    browser: object, pages: Path, tmp_path: Path
) -> None:
    for path in home_files(pages):
        visit = Visit(browser, path)
        visit.page.emulate_media(media="print")
        pdf = visit.page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
        assert pdf_pages(pdf) == 1, f"{path.name} prints on {pdf_pages(pdf)} pages"
        visit.page.close()
    # The check can fail: a page three times as long prints on more than one.
    visit = Visit(browser, path)
    visit.page.evaluate("document.body.innerHTML += document.body.innerHTML.repeat(2)")
    assert pdf_pages(visit.page.pdf(format="A4")) > 1


def test_screenshots_have_the_page_width_and_an_a4_height(
    browser: object, pages: Path, tmp_path: Path
) -> None:
    path = home_files(pages)[0]
    visit = Visit(browser, path)
    shot = tmp_path / f"{path.stem}.png"
    visit.page.screenshot(path=str(shot), full_page=True)
    width, height = png_size(shot.read_bytes())
    assert width == A4_WIDTH_PX
    assert 600 <= height <= 1300, height  # one A4 page of content at most, on screen
    assert 20_000 < shot.stat().st_size < 2_000_000


def test_portfolio_filters_by_hazard_without_script(browser: object, pages: Path) -> None:
    visit = Visit(browser, pages / publish.INDEX)
    assert visit.errors == []
    assert visit.requests == [visit.url]
    rows = visit.page.locator("table.portfolio tbody tr")
    total = rows.count()
    assert total == len(home_files(pages))
    for hazard in ("cold", "heat", "damp"):
        visit.page.goto(f"{visit.url}#f-{hazard}")
        shown = sum(1 for i in range(total) if rows.nth(i).is_visible())
        marked = visit.page.locator(f"table.portfolio tbody tr.{hazard}").count()
        assert shown == marked, hazard
    assert (
        visit.page.locator("tbody tr.damp").count() + visit.page.locator("tbody tr.cold").count()
        > 0
    ), "the simulated portfolio has homes at risk"
    visit.page.goto(f"{visit.url}#f-all")
    assert sum(1 for i in range(total) if rows.nth(i).is_visible()) == total


def test_no_serious_accessibility_violation(browser: object, pages: Path) -> None:
    script = axe_script()
    for path in [*home_files(pages)[:3], pages / publish.INDEX]:
        visit = Visit(browser, path)
        visit.page.add_script_tag(path=str(script))
        result = visit.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        serious = [
            (v["id"], v["impact"], len(v["nodes"]))
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], f"{path.name}: {serious}"
        visit.page.close()
