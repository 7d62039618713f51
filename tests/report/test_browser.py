"""Every report page in headless Chromium (Debian's ``chromium``, --headless --no-sandbox
--disable-background-networking): it loads from file:// and from a local web server, with no
console error and no request outside the report's own files; a screenshot is taken of each.
Skipped only when no chromium binary is installed."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

from tests.report.browser import Chromium, find_chromium

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (apt-get install chromium) for the browser test"
)
# Set to keep the screenshots (e.g. to attach them to a review).
SHOTS = os.environ.get("VISITONCE_REPORT_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM is not None
    with Chromium(CHROMIUM) as b:
        yield b


def _check_folder(
    browser: Chromium, reports: Path, shots: Path, *, tag: str, suffix: str = "visitonce report"
) -> int:
    pages = sorted(reports.glob("*.html"))
    assert pages
    own = f"file://{reports.resolve()}/"
    for html in pages:
        got = browser.load(f"file://{html.resolve()}")
        assert got.errors == [], (html.name, got.errors)
        outside = [u for u in got.requests if not (u.startswith(own) or u.startswith("data:"))]
        assert outside == [], (html.name, outside)
        assert got.title.endswith(suffix)
        assert got.screenshot.startswith(b"\x89PNG") and len(got.screenshot) > 5_000
        assert browser.evaluate("document.body.innerText.length") > 200
        # every chart has a text alternative, every table header cells
        assert browser.evaluate(
            "[...document.querySelectorAll('svg')].every(s => s.getAttribute('aria-label'))"
        )
        assert browser.evaluate(
            "[...document.querySelectorAll('table')].every(t => t.querySelector('th'))"
        )
        (shots / f"{tag}-{html.stem}.png").write_bytes(got.screenshot)
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            shutil.copy(shots / f"{tag}-{html.stem}.png", SHOTS)
    return len(pages)


def test_handmade_report_pages_load_cleanly(browser, handmade_report, tmp_path) -> None:
    n = _check_folder(browser, handmade_report["reports"], tmp_path, tag="handmade")
    assert n == 10  # 7 pages (demand.html among them) + 3 department pages


def test_bundle_filters_work_in_the_browser(browser, handmade_report) -> None:
    page = handmade_report["reports"] / "bundles.html"
    browser.load(f"file://{page.resolve()}", screenshot=False)
    visible = "[...document.querySelectorAll('#bundles-table tbody tr')].filter(r => !r.hidden)"
    assert browser.evaluate(f"{visible}.length") == 3
    browser.evaluate(
        "(() => { const s = document.getElementById('f-scope'); s.value = 'place';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    assert browser.evaluate(f"{visible}.map(r => r.dataset.key)") == ["b3"]
    assert browser.evaluate("document.getElementById('f-count').textContent") == "1 of 3 shown"
    browser.evaluate(
        "(() => { const s = document.getElementById('f-scope'); s.value = '';"
        " s.dispatchEvent(new Event('change'));"
        " const g = document.getElementById('f-segment'); g.value = 'citizen_type=enterprise';"
        " g.dispatchEvent(new Event('change')); })()"
    )
    assert browser.evaluate(f"{visible}.map(r => r.dataset.key)") == ["b2"]


def test_pages_work_when_served(browser, handmade_report) -> None:
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(handmade_report["reports"])
    )
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        origin = f"http://127.0.0.1:{server.server_address[1]}/"
        for name in ("index.html", "bundles.html", "scorecards.html", "demand.html"):
            got = browser.load(origin + name, screenshot=False)
            assert got.errors == [], (name, got.errors)
            assert all(u.startswith(origin) or u.startswith("data:") for u in got.requests)
    finally:
        server.shutdown()
        server.server_close()


def test_city_report_pages_load_cleanly(browser, city_run, tmp_path) -> None:
    n = _check_folder(browser, city_run["reports"], tmp_path, tag="city")
    assert n >= 6


def _cjk_families() -> set[str]:
    """Font families installed with Chinese coverage (fontconfig), empty if none or unknown."""
    import subprocess

    if shutil.which("fc-list") is None:
        return set()
    got = subprocess.run(
        ["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True, check=False
    ).stdout
    return {name.strip() for line in got.splitlines() for name in line.split(",") if name.strip()}


CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


def test_zh_pages_draw_chinese_with_a_cjk_font(browser, handmade_report_zh, tmp_path) -> None:
    """Every zh-CN page loads cleanly; every Chinese character of its headings, navigation,
    table headers and chart labels is drawn by a font with Chinese glyphs (DevTools
    CSS.getPlatformFontsForNode), so nothing falls back to empty boxes."""
    families = _cjk_families()
    if not families:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk; make setup does)")
    reports = handmade_report_zh["reports"]
    n = _check_folder(browser, reports, tmp_path, tag="zh", suffix="visitonce 报告")
    assert n == 10
    checked = glyphs = 0
    used: set[str] = set()
    for name in ("index.html", "lagging.html", "demand.html", "scorecards.html", "method.html"):
        browser.load(f"file://{(reports / name).resolve()}", screenshot=False)
        assert browser.evaluate("document.documentElement.lang") == "zh-CN"
        for node in browser.platform_fonts("h1, h2, nav a, th, figcaption, p, svg text"):
            n_cjk = len(CJK.findall(node["text"] or ""))
            if not n_cjk:
                continue
            drawn = sum(f["glyphCount"] for f in node["fonts"] if f["familyName"] in families)
            other = sum(f["glyphCount"] for f in node["fonts"] if f["familyName"] not in families)
            n_other = len("".join((node["text"] or "").split())) - n_cjk
            # Chinese glyphs from a CJK font; no more glyphs elsewhere than non-Chinese chars
            assert drawn >= n_cjk and other <= n_other, (name, node)
            checked += 1
            glyphs += n_cjk
            used |= {f["familyName"] for f in node["fonts"] if f["familyName"] in families}
    print(f"zh font check: {checked} nodes, {glyphs} Chinese characters, all drawn by {used}")
    assert checked > 50
