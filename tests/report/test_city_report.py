"""The report of a real run (a small generated city through every stage): the reports stage
runs last, and the pages show exactly what the tables hold, including the planted lagging
steps and bundles."""

from __future__ import annotations

import json

from pyspark.sql import functions as F

from tests.report.pagehtml import parse
from tests.report.test_pages import assert_links_resolve
from visitonce.report import fmt, i18n


def test_the_run_writes_the_report_and_records_it(city_run) -> None:
    m = city_run["manifest"]
    assert list(m["stages"])[-1] == "reports"
    section = m["stage_results"]["reports"]
    assert section["pages"] >= 6 and section["index"].endswith("reports/index.html")
    assert {"bundles", "lagging_steps", "alerts"} <= set(section["tables"])
    assert (city_run["reports"] / "index.html").is_file()
    index = parse(city_run["reports"] / "index.html")
    assert index.rows[""][0]["rows_clean"][0] == fmt.count(m["rows_clean"])
    assert index.rows[""][0]["applications"][0] == fmt.count(m["applications"])
    assert m["config_hash"] in parse(city_run["reports"] / "method.html").text
    assert_links_resolve(city_run["reports"])


def test_bundles_page_equals_the_bundles_table(spark, city_run) -> None:
    table = spark.read.parquet(str(city_run["root"] / "bundles")).toPandas()
    page = parse(city_run["reports"] / "bundles.html")
    keyed = {k: v[0] for k, v in page.rows.items() if k}
    assert set(keyed) == set(table["bundle_id"])  # every bundle of the period is listed
    for _, r in table.iterrows():
        shown = {k: v[0] for k, v in keyed[r["bundle_id"]].items()}
        assert shown["items"] == ", ".join(r["items"])
        assert shown["lift"] == fmt.fixed(r["lift"])
        assert shown["support"] == fmt.percent(r["support"])
        assert shown["visits_saved"] == fmt.count(r["visits_saved"])
        assert shown["n_transactions"] == fmt.count(r["n_transactions"])
        assert float(keyed[r["bundle_id"]]["lift"][1]) == r["lift"]
    # ranked by visits saved
    order = [int(keyed[k]["visits_saved"][1]) for k in page.rows if k]
    assert order == sorted(order, reverse=True)
    # the planted citizen bundles are on the page
    listed = {shown["items"][0] for shown in keyed.values()}
    planted = {", ".join(sorted(b["items"])) for b in city_run["truth"]["bundles"]}
    assert planted & listed, "no planted bundle on the page"


def test_lagging_page_equals_the_lagging_table(spark, city_run) -> None:
    table = spark.read.parquet(str(city_run["root"] / "lagging_steps"))
    flagged = table.where(F.col("flagged")).toPandas()
    assert len(flagged) >= 1
    page = parse(city_run["reports"] / "lagging.html")
    every = table.toPandas()
    every["_key"] = (
        every["service_item"] + "|" + every["step"] + "|" + every["kind"] + "|" + every["setting"]
    )
    for _, r in flagged.iterrows():
        key = f"{r['service_item']}|{r['step']}|{r['kind']}|{r['setting']}"
        rows = page.rows[key]
        # lagging_steps v2 has a row per comparison (and place), all under the step's key: each
        # flagged row is in the flagged table, every row of the key in its item's table (or,
        # with too few cases, in the insufficient-data section)
        same = every[every["_key"] == key]
        assert len(rows) == int(same["flagged"].sum()) + len(same)
        shown = [
            (row["observed_s"][0], row["expected_s"][0], row["excess_ratio"][0]) for row in rows
        ]
        mine = (
            fmt.duration(r["observed_s"]),
            fmt.duration(r["expected_s"]),
            fmt.fixed(r["excess_ratio"]),
        )
        assert shown.count(mine) >= 2  # flagged table and the item's own table
    planted = {
        (p["service_item"], p["step"], p["kind"]) for p in city_run["truth"]["lagging_steps"]
    }
    # Every flagged row is on the page (above); at least one of them is a planted lag. (This
    # counted keys with exactly two page rows, which since v2's rows per comparison is a step
    # with two unflagged comparisons, not a flagged one: it held by accident.)
    shown = set(zip(flagged["service_item"], flagged["step"], flagged["kind"], strict=True))
    assert planted & shown, "no planted lagging step on the page"
    # every item-step with insufficient data is listed, in its own section
    for r in table.where(F.col("status") == "insufficient_data").collect():
        key = f"{r['service_item']}|{r['step']}|{r['kind']}|{r['setting']}"
        assert fmt.count(r["n"]) in [row["n"][0] for row in page.rows[key]]


def test_alerts_page_equals_the_alerts_table(spark, city_run) -> None:
    table = spark.read.parquet(str(city_run["root"] / "alerts")).toPandas()
    page = parse(city_run["reports"] / "alerts.html")
    assert {k for k in page.rows if k} == set(table["alert_id"])
    for _, r in table.iterrows():
        (row,) = page.rows[r["alert_id"]]
        assert row["score"][0] == fmt.fixed(r["score"])
        assert row["metric"][0] == i18n.word(r["metric"])  # the metric's label
        for p in r["proposals"]:
            assert " ".join(p.split()) in row["proposals"][0]


def test_scorecard_page_equals_the_latest_month_of_the_scorecards_table(spark, city_run) -> None:
    table = spark.read.parquet(str(city_run["root"] / "scorecards")).toPandas()
    month = table[table["grain"] == "month"]
    latest = month[month["period"] == max(month["period"])]
    page = parse(city_run["reports"] / "scorecards.html")
    keyed = {k: v[0] for k, v in page.rows.items() if k}
    assert set(keyed) == set(latest["department"])  # every department, quarters not mixed in
    for _, r in latest.iterrows():
        shown = {k: v[0] for k, v in keyed[r["department"]].items()}
        assert shown["n_applications"] == fmt.count(r["n_applications"])
        assert shown["rank"] == fmt.count(r["rank"])
        assert float(keyed[r["department"]]["score"][1]) == r["score"]
        assert shown["band"] == r["band"]
    from visitonce.report.model import slug
    from visitonce.report.render import department_file

    for dept in latest["department"]:  # one page per department, linked from the table
        assert (city_run["reports"] / department_file(slug(str(dept)))).is_file(), dept
    assert "not computed in this run" not in page.text


def test_requests_export_covers_every_application(spark, city_run) -> None:
    n = spark.read.parquet(str(city_run["root"] / "applications")).count()
    requests = json.loads((city_run["reports"] / "exports" / "requests.json").read_text("utf-8"))
    assert len(requests) == n
    assert len({r["service_request_id"] for r in requests}) == n
    times = [r["requested_datetime"] for r in requests]
    assert times == sorted(times)
