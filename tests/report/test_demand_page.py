"""reports/demand.html: the numbers shown are the hand-made tables' values (expected figures
written by hand below, not recomputed), the heat map and tables are accessible, every part
says "not computed in this run" when its table is absent, and a real run's page equals its
tables and manifest."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.report import handmade as H
from tests.report.pagehtml import parse
from tests.report.test_pages import assert_links_resolve
from visitonce.report.model import ReportInputs
from visitonce.report.render import render_site


def _cells(page, key: str) -> dict[str, str]:
    (row,) = page.rows[key]
    return {k: v[0] for k, v in row.items()}


@pytest.fixture(scope="module")
def page(handmade_report):
    return parse(handmade_report["reports"] / "demand.html")


def test_handmade_demand_tables_follow_their_contracts(spark, handmade_root) -> None:
    from visitonce import schemas

    for name in H.DEMAND_TABLES:
        df = spark.read.parquet(str(handmade_root / name))
        assert schemas.check_schema(df, schemas.load(name)) == [], name


def test_demand_page_is_linked_from_the_overview_and_the_nav(handmade_report, page) -> None:
    reports = handmade_report["reports"]
    index = parse(reports / "index.html")
    assert "demand.html" in index.links
    assert "demand.html" in parse(reports / "bundles.html").links  # the nav of every page
    assert page.title == "Demand and staffing · visitonce report"
    # the overview card: 1 short centre-hour, first priority I01
    assert "1 centre-hours short of officials; first reform priority I01" in index.text
    assert_links_resolve(reports)
    html = (reports / "demand.html").read_text("utf-8")
    for href in page.links:  # in-page anchors point at headings that exist
        if href.startswith("demand.html#"):
            assert f'id="{href.split("#")[1]}"' in html, href


def test_reform_priorities_show_the_table_values_small_items_flagged(page) -> None:
    assert [k for k in page.rows if k.startswith("rank:")] == ["rank:I01", "rank:I02", "rank:I09"]
    i01 = _cells(page, "rank:I01")
    assert i01["n_applications"] == "400" and i01["share_of_citizens"] == "35.0%"
    assert i01["burden"] == "1.25" and i01["priority_score"] == "500.00"
    assert i01["most_affected_group"] == "18-59" and i01["group_share"] == "5.0%"
    i09 = _cells(page, "rank:I09")
    assert i09["service_item"] == "I09 small group"  # listed and flagged, not hidden
    assert i09["most_affected_group"] == "75+" and i09["group_share"] == "12.5%"
    assert i09["mean_wait_min"] == "30.00" and i09["mean_satisfaction"] == "2.50"
    # heaviest burden whatever the volume: the small item first
    assert [k for k in page.rows if k.startswith("heavy:")] == [
        "heavy:I09", "heavy:I01", "heavy:I02",
    ]  # fmt: skip
    assert _cells(page, "heavy:I09")["burden"] == "2.50"


def test_small_items_below_the_cut_are_still_listed() -> None:
    from visitonce.report.demand import demand_page

    ctx = demand_page(ReportInputs(reform_priorities=H.reform_priorities()), top=2)
    assert [r["service_item"] for r in ctx["priorities"]["rows"]] == ["I01", "I02"]
    assert [r["service_item"] for r in ctx["priorities"]["small_outside_top"]] == ["I09"]
    html = render_site(ReportInputs(reform_priorities=H.reform_priorities()))["demand.html"]
    assert 'data-key="small:I09"' not in html  # top 25: I09 is in the ranked table itself


def test_staffing_heat_map_and_short_cells(page) -> None:
    counts = _cells(page, "staffing-counts")
    assert counts == {"short": "1", "idle": "1", "balanced": "1", "no_roster": "1", "n_cells": "4"}
    (short,) = [k for k in page.rows if k.startswith("short:")]
    assert short == "short:C1|1|9"
    s = _cells(page, short)
    assert s["weekday"] == "Mon" and s["hour"] == "09:00"
    assert (
        s["rostered_officials"] == "3.00" and s["officials_needed"] == "6" and s["gap"] == "-3.00"
    )
    assert s["rostered_service_level"] == "30.0%" and s["observed_within_target"] == "55.0%"
    assert s["note"] == H.SHORT[0] == "short 3.0: C2 has 4.0 idle at this hour and could move"
    c1, c2 = _cells(page, "center:C1"), _cells(page, "center:C2")
    assert c1["n_short"] == "1" and c1["worst_gap"] == "-3.00" and c1["weekday_gap"] == "-1.25"
    assert c2["n_idle"] == "1" and c2["weekday_gap"] == "4.00"
    (heat,) = [s for s in page.svgs if "Staffing gap" in s["aria-label"]]
    assert heat["role"] == "img"
    assert (
        "4 centre-weekday-hours: 1 short, 1 idle, 1 balanced, 1 without a roster"
        in (heat["aria-label"])
    )
    assert "official time per minute of desk service: 1.50 (calibrated" in page.text.lower()


def test_heat_map_cells_carry_the_gap_and_its_colour() -> None:
    from visitonce.report.demand import IDLE_FILL, NO_ROSTER_FILL, SHORT_FILL, _staffing

    svg = str(_staffing(H.staffing_plan(), None)["chart"])
    # rows centre · weekday, columns hours; the short cell reads -3.0 in the short colour
    assert "C1 · Mon" in svg and "C2 · Tue" in svg and ">09<" in svg and ">10<" in svg
    assert f'fill="{SHORT_FILL}"/><title>C1 Mon 09:00 — short: rostered 3.0, needed 6' in svg
    assert ">-3.0</text>" in svg and ">+4.0</text>" in svg and ">+0.5</text>" in svg
    assert svg.count(f'fill="{IDLE_FILL}"') == 1 and svg.count(f'fill="{NO_ROSTER_FILL}"') == 1
    assert ">?</text>" in svg  # the no-roster cell: no gap to show


def test_service_hours_peaks_and_proposals(page) -> None:
    assert _cells(page, "peak:C1")["peak_hours"] == "09:00, 10:00"
    assert _cells(page, "peak:C2")["peak_hours"] == "09:00"
    assert [k for k in page.rows if k.startswith("hours:")] == ["hours:C1|1|9", "hours:C2|1|18"]
    ext = _cells(page, "hours:C1|1|9")
    assert ext["proposal"] == "consider extending" and ext["edge"] == "opening"
    assert ext["citizens_per_official"] == "3.33" and ext["n_arrivals"] == "80"
    close = _cells(page, "hours:C2|1|18")
    assert close["proposal"] == "consider closing" and close["arrivals_per_hour"] == "0.50"
    assert "(1 of 4 edge hours)" in page.text  # the small edge hour at C1 17:00, not proposed


def test_digital_gap_by_age_band(page) -> None:
    assert [k for k in page.rows if k.startswith("gap:")] == [
        "gap:I05|18-59", "gap:I05|75+", "gap:I05|all", "gap:I06|18-59", "gap:I06|all",
    ]  # fmt: skip
    old = _cells(page, "gap:I05|75+")
    assert old["age_band"] == "75+ small group" and old["counter_share"] == "91.7%"
    assert old["remote_share"] == "8.3%" and old["relies_on_counter"] == "yes"
    assert _cells(page, "gap:I05|all")["counter_share"] == "36.6%"
    assert _cells(page, "gap:I06|all")["mostly_counter"] == "yes"
    assert "over half of its applications start there (I06)" in page.text
    (heat,) = [s for s in page.svgs if "counter, by age band" in s["aria-label"]]
    assert "2 online-capable items x 3 age bands" in heat["aria-label"]


def test_forecast_errors_from_the_manifest(page) -> None:
    model, base = _cells(page, "err:model"), _cells(page, "err:seasonal_baseline")
    naive = _cells(page, "err:naive_last_week")
    assert (model["mae"], model["rmse"], model["wape"]) == ("0.62", "1.41", "41.3%")
    assert (base["mae"], base["rmse"], base["wape"]) == ("0.64", "1.46", "42.4%")
    assert (naive["mae"], naive["rmse"], naive["wape"]) == ("0.83", "1.90", "55.3%")
    assert "model (gradient boosting) lowest error" in page.text
    c2 = _cells(page, "fc:C2")
    assert c2["method"] == "seasonal baseline" and c2["wape_model"] == "47.0%"
    assert c2["wape_seasonal_baseline"] == "45.0%" and c2["wape_naive_last_week"] == "70.0%"
    assert "judged on the last 28 days of the data (from 2026-03-04" in page.text
    # the forecast table, summed per centre by the stage: C1 20.5 + 19.5, naive 22 + 19
    ahead = _cells(page, "ahead:C1")
    assert ahead["forecast"] == "40.00" and ahead["naive_last_week"] == "41.00"
    assert ahead["n_days"] == "2" and ahead["first_date"] == "2026-04-01"
    assert _cells(page, "ahead:C2")["forecast"] == "5.25"


def test_demand_trend_per_item_and_channel(page) -> None:
    # summed by the stage over centre, district, weekday and hour
    assert [k for k in page.rows if k.startswith("item:")] == ["item:I01", "item:I02", "item:I09"]
    i01 = _cells(page, "item:I01")
    assert (i01["volume"], i01["previous_volume"], i01["trend"]) == ("40", "30", "33.3%")
    i02 = _cells(page, "item:I02")
    assert i02["service_item"] == "I02 small group" and i02["trend"] == "–"  # no previous volume
    assert _cells(page, "item:I09")["trend"] == "-25.0%"
    counter = _cells(page, "channel:counter")
    assert (counter["volume"], counter["previous_volume"], counter["trend"]) == (
        "38",
        "24",
        "58.3%",
    )
    assert _cells(page, "channel:online")["trend"] == "0.0%"
    assert "Only 10 of the previous period's 28 days have data" in page.text


def test_pages_are_accessible(page) -> None:
    assert page.tables >= 10 and page.tables == page.tables_with_th
    assert len(page.svgs) == 3  # priorities, staffing heat map, digital gap heat map
    for svg in page.svgs:
        assert svg.get("role") == "img" and svg.get("aria-label")
    assert page.svg_titles >= len(page.svgs)


def test_absent_tables_say_not_computed(spark, tmp_path_factory) -> None:
    from visitonce.config import Config
    from visitonce.report.stage import write_reports

    root = tmp_path_factory.mktemp("nodemand") / "out"
    root.mkdir()
    write_reports(spark, str(root), config=Config(), manifest={}, key=None)
    page = parse(root / "reports" / "demand.html")
    assert "Demand and staffing: not computed in this run" in page.text
    assert "not computed in this run" in parse(root / "reports" / "index.html").text


def test_each_part_says_when_its_table_is_absent() -> None:
    # only the reform priorities (no roster, no catalog, no demand stage section)
    html = render_site(ReportInputs(reform_priorities=H.reform_priorities()))["demand.html"]
    for part in ("Staffing plan", "Service hours", "Digital take-up gap", "Counter forecast",
                 "Demand trend"):  # fmt: skip
        assert f"{part}: not computed in this run" in html, part
    assert "Reform priorities: not computed" not in html
    # a forecast too short to judge: the manifest's note is shown, no error table
    manifest = {"stage_results": {"demand": {"forecast": {"note": "27 days of history"}}}}
    summary = pd.DataFrame({"center": ["C1"], "method": ["seasonal_baseline"], "forecast": [3.0]})
    html = render_site(ReportInputs(manifest=manifest, demand_forecast_summary=summary))[
        "demand.html"
    ]
    assert "not judged in this run (27 days of history)" in html
    assert 'id="errors-table"' not in html and 'data-key="ahead:C1"' in html


def test_a_real_run_shows_its_tables_and_forecast_section(spark, city_run) -> None:
    from pyspark.sql import functions as F

    root, manifest = city_run["root"], city_run["manifest"]
    page = parse(city_run["reports"] / "demand.html")
    plan = spark.read.parquet(str(root / "staffing_plan"))
    by_status = {r["status"]: r["n"] for r in plan.groupBy("status").agg(F.count("*").alias("n"))
                 .collect()}  # fmt: skip
    counts = _cells(page, "staffing-counts")
    assert counts["short"] == str(by_status.get("short", 0))
    assert counts["n_cells"] == f"{plan.count():,}"
    prio = spark.read.parquet(str(root / "reform_priorities")).where("rank = 1").first()
    top = _cells(page, f"rank:{prio['service_item']}")
    assert top["rank"] == "1" and top["n_applications"] == f"{prio['n_applications']:,}"
    # the reports stage sees the demand stage's manifest section of the same run
    fc = manifest["stage_results"]["demand"]["forecast"]
    if fc.get("errors"):
        wape = fc["errors"]["model"]["wape"]
        assert _cells(page, "err:model")["wape"] == f"{100 * wape:.1f}%"
    else:
        assert f"not judged in this run ({fc['note']})" in page.text
    apps = spark.read.parquet(str(root / "demand")).agg(F.sum("volume")).first()[0]
    shown = sum(int(_cells(page, k)["volume"].replace(",", "")) for k in page.rows
                if k.startswith("item:"))  # fmt: skip
    assert shown == apps
