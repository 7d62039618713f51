"""Pages rendered from hand-made tables: the numbers shown are the table's values (written by
hand below, not recomputed), every page is accessible, and a page whose table is absent says
so instead of failing."""

from __future__ import annotations

import json

import pytest

from tests.report.conftest import MANIFEST
from tests.report.pagehtml import parse
from visitonce.report.model import slug

PAGES = ("index.html", "bundles.html", "lagging.html", "alerts.html", "scorecards.html",
         "demand.html", "method.html")  # fmt: skip


def _cells(page, key: str) -> dict[str, str]:
    (row,) = page.rows[key]
    return {k: v[0] for k, v in row.items()}


def test_every_page_and_every_department_page_is_written(handmade_report) -> None:
    reports = handmade_report["reports"]
    for name in PAGES:
        assert (reports / name).is_file(), name
    for dept in ("D1", "D2", "D3"):  # the latest period's departments
        assert (reports / f"department-{slug(dept)}.html").is_file()
    assert handmade_report["result"]["pages"] == len(PAGES) + 3
    assert_links_resolve(reports)


def assert_links_resolve(reports) -> None:
    """Every link between pages (and to exports) points at a written file."""
    for html in reports.glob("*.html"):
        for href in parse(html).links:
            target = href.split("#")[0]
            assert (reports / target).is_file(), (html.name, href)


def test_pages_are_accessible(handmade_report) -> None:
    for html in handmade_report["reports"].glob("*.html"):
        page = parse(html)
        assert page.lang == "en"
        assert page.title.endswith("· visitonce report") and len(page.title) > 20, html.name
        assert page.tables == page.tables_with_th, f"{html.name}: a table without headers"
        for svg in page.svgs:
            assert svg.get("role") == "img" and svg.get("aria-label"), (html.name, svg)
        assert page.svg_titles >= len(page.svgs), html.name


def test_self_contained_nothing_loaded_from_elsewhere(handmade_report) -> None:
    for html in handmade_report["reports"].glob("*.html"):
        text = html.read_text("utf-8")
        page = parse(html)
        assert page.scripts_src == ["data:,"], (html.name, page.scripts_src)  # favicon only
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text
        assert "@import" not in text and "url(" not in text


def test_bundles_page_shows_the_table_values_in_rank_order(handmade_report) -> None:
    page = parse(handmade_report["reports"] / "bundles.html")
    assert [k for k in page.rows if k] == ["b1", "b2", "b3"]  # visits saved 118 > 90 > 12
    b2 = _cells(page, "b2")
    assert b2["items"] == "I03, I04, I05"
    assert b2["segment"] == "citizen_type=enterprise"
    assert b2["lift"] == "31.25" and b2["support"] == "20.0%" and b2["confidence"] == "80.0%"
    assert b2["q_value"] == "4.0e-04" and b2["visits_saved"] == "90"
    assert b2["n_transactions"] == "45" and b2["median_span_days"] == "4.00"
    b1 = _cells(page, "b1")
    assert b1["support"] == "1.2%" and b1["lift"] == "8.50" and b1["q_value"] == "1.5e-09"
    assert _cells(page, "b3")["typical_order"] == "–"
    assert float(page.rows["b2"][0]["lift"][1]) == 31.25  # data-value: the exact figure
    assert "Compared with the period ending 2026-02-28" in page.text
    assert "Which items go together" in page.text


def test_lagging_page_lists_flagged_and_insufficient_steps(handmade_report) -> None:
    page = parse(handmade_report["reports"] / "lagging.html")
    flagged = page.rows["I01|review|processing|back_office"]
    # once in the flagged table, once in the item's own table
    assert len(flagged) == 2
    for row in flagged:
        shown = {k: v[0] for k, v in row.items()}
        assert shown["observed_s"] == "3.0 d" and shown["expected_s"] == "24.0 h"
        assert shown["excess_ratio"] == "3.00"
    words = flagged[0]["comparison_text"][0]
    assert (
        words
        == "review processing at C2: 3.0 d against 24.0 h at the other 4 centres, same item, same weeks"
    )
    assert {k: v[0] for k, v in page.rows["I01|accept|waiting|desk"][0].items()}[
        "observed_s"
    ] == "10.0 min"
    insufficient = page.rows["I09|review|processing|back_office"]
    assert len(insufficient) == 1 and insufficient[0]["n"][0] == "7"
    assert "Items with insufficient data" in page.text


def test_alerts_page_shows_local_times_and_proposals(handmade_report) -> None:
    page = parse(handmade_report["reports"] / "alerts.html")
    a1 = _cells(page, "a1")
    assert a1["window_start"] == "2026-03-10 09:00"  # 01:00 UTC in Asia/Shanghai
    assert a1["value"] == "48.25" and a1["expected"] == "12.00" and a1["score"] == "9.50"
    assert "open 2 more desks" in a1["proposals"]
    assert _cells(page, "a2")["proposals"] == "–"
    assert "C1 · counter" in page.text and "C2 · counter" in page.text


def test_scorecard_pages_show_the_latest_period(handmade_report) -> None:
    reports = handmade_report["reports"]
    page = parse(reports / "scorecards.html")
    assert [k for k in page.rows if k] == ["D1", "D2", "D3"]  # by rank; 2026-02's D1 row not listed
    d1 = _cells(page, "D1")
    assert d1["score"] == "74.50" and d1["n_applications"] == "420" and d1["band"] == "B"
    assert d1["band_probability"] == "81.0%"
    dept = parse(reports / f"department-{slug('D1')}.html")
    top = dept.rows[""][0]
    assert top["band"][0] == "B" and top["band_probability"][0] == "81.0%"
    assert top["score"][0] == "74.50" and top["rank"][0] == "1"
    kpi = _cells(dept, "visits_per_case")
    assert kpi["observed"] == "1.24" and kpi["shrunk"] == "1.19" and kpi["expected"] == "1.10"
    assert "80+" in dept.text and "2.5 points from band A" in dept.text
    d2 = parse(reports / f"department-{slug('D2')}.html")
    assert "not available" in d2.text  # satisfaction KPI unavailable for D2
    # Below the evidence minimum: listed with its count and why, no score, rank or band.
    d3 = _cells(page, "D3")
    assert d3["n_applications"] == "6" and d3["score"] == "–" and d3["band"] == "–"
    assert d3["note"] == "too few cases (6 applications): no score"
    assert _cells(page, "D1")["note"] == "–"
    assert (
        "Not computable from these logs, and left out of every score: rating_coverage, "
        "wait_within_w_rate." in page.text
    )


@pytest.fixture(scope="module")
def empty_report(spark, tmp_path_factory):
    from visitonce.config import Config
    from visitonce.report.stage import write_reports

    root = tmp_path_factory.mktemp("empty") / "out"
    root.mkdir()
    write_reports(spark, str(root), config=Config(), manifest={}, key=None)
    return root / "reports"


def test_absent_tables_render_as_not_computed(empty_report) -> None:
    for name in ("bundles.html", "lagging.html", "alerts.html", "scorecards.html"):
        page = parse(empty_report / name)
        assert "not computed in this run" in page.text, name
    assert "not computed in this run" in parse(empty_report / "index.html").text
    assert not (empty_report / "exports" / "scorecards.csv").exists()
    assert_links_resolve(empty_report)


def test_method_page_names_the_config_hash_and_versions(handmade_report) -> None:
    page = parse(handmade_report["reports"] / "method.html")
    assert MANIFEST["config_hash"] in page.text
    assert "4.2.0" in page.text and "k_suppress" in page.text
    index = parse(handmade_report["reports"] / "index.html")
    assert index.rows[""][0]["rows_in"][0] == "1,234"


def test_config_section_reports(tmp_path) -> None:
    from visitonce.config import ConfigError, load_config

    p = tmp_path / "c.yaml"
    p.write_text("reports:\n  k_suppress: 5\n  matrix_items: 12\n")
    cfg = load_config(p)
    assert cfg.reports.k_suppress == 5 and cfg.reports.matrix_items == 12
    p.write_text("reports:\n  k_suppress: 0\n")
    with pytest.raises(ConfigError, match="k_suppress"):
        load_config(p)
    assert json.loads(json.dumps(cfg.to_dict()))["reports"]["k_suppress"] == 5


def test_reports_is_the_last_stage() -> None:
    from visitonce.stages import analytic_stages

    assert analytic_stages()[-1][0] == "reports"
