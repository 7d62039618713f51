"""Exports: small-cell suppression of scorecards, Open311 requests with pseudonyms only, and
the JSON array written from executor parts. Expectations are worked out by hand from the
hand-made tables in conftest.py / handmade.py."""

from __future__ import annotations

import csv
import json

import pandas as pd

from tests.report import handmade as H
from tests.report.conftest import KEY
from visitonce.pseudonym import pseudonym_py
from visitonce.report import exports


def test_scorecards_below_k_keep_only_their_keys() -> None:
    out = exports.suppress_scorecards(H.scorecards(), k=10)
    d3 = out[out["department"] == "D3"].iloc[0]  # 6 applications < 10
    assert bool(d3["suppressed"]) and d3["period"] == "2026-03"
    for c in ("n_applications", "score", "score_lo", "band", "rank", "on_time_rate"):
        assert d3[c] is None, c
    d1 = out[(out["department"] == "D1") & (out["period"] == "2026-03")].iloc[0]
    assert not bool(d1["suppressed"]) and d1["score"] == 74.5 and d1["n_applications"] == 420
    assert out["suppressed"].sum() == 1
    # k = 7: six is still below; k = 6: nothing suppressed
    assert exports.suppress_scorecards(H.scorecards(), k=7)["suppressed"].sum() == 1
    assert exports.suppress_scorecards(H.scorecards(), k=6)["suppressed"].sum() == 0


def test_scorecard_exports_are_written_suppressed(handmade_report) -> None:
    base = handmade_report["reports"] / "exports"
    with open(base / "scorecards.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    d3 = next(r for r in rows if r["department"] == "D3")
    assert d3["suppressed"] == "True" and d3["score"] == "" and d3["n_applications"] == ""
    d2 = next(r for r in rows if r["department"] == "D2")
    assert d2["score"] == "61.25" and d2["n_applications"] == "310"
    doc = json.loads((base / "scorecards.json").read_text("utf-8"))
    assert doc["k_suppress"] == 10
    j3 = next(r for r in doc["scorecards"] if r["department"] == "D3")
    assert j3["suppressed"] is True and j3["score"] is None
    j1 = next(r for r in doc["scorecards"] if r["department"] == "D1" and r["period"] == "2026-03")
    assert j1["score"] == 74.5 and j1["n_applications"] == 420


def test_requests_are_open311_with_pseudonyms_only(handmade_report) -> None:
    path = handmade_report["reports"] / "exports" / "requests.json"
    text = path.read_text("utf-8")
    requests = json.loads(text)  # one JSON array
    assert len(requests) == 5
    assert [r["service_request_id"] for r in requests] == [
        pseudonym_py(a, key=KEY, domain="request") for a in ("A-1", "A-2", "A-3", "A-4", "A-5")
    ]  # sorted by request time: A-1 first
    for raw in ("A-1", "c_x1", "12 Some Road", "Parcel 9"):
        assert raw not in text
    first = requests[0]
    assert set(exports.OPEN311_FIELDS) <= set(first)
    assert first["status"] == "closed" and first["service_code"] == "I01"
    assert first["service_name"] == "Birth record"  # from the catalog
    assert first["agency_responsible"] == "D1"
    assert first["requested_datetime"] == "2026-03-02T01:30:00Z"
    assert first["updated_datetime"] == "2026-03-03T01:30:00Z"
    # due 2026-03-03, end of day in Asia/Shanghai = 15:59:59 UTC
    assert first["expected_datetime"] == "2026-03-03T15:59:59Z"
    assert first["extended_attributes"] == {
        "channel": "counter", "visits": 1, "on_time_status": "on_time"
    }  # fmt: skip
    assert requests[1]["status"] == "open" and requests[1]["updated_datetime"] is None
    assert requests[3]["expected_datetime"] is None  # no time limit
    # k = 10 (the default): both districts (3 and 2 requests) are blanked
    assert [r["zipcode"] for r in requests] == [None] * 5
    assert first["address"] is None and first["lat"] is None and first["description"] is None


def test_requests_area_suppression_follows_k(spark) -> None:
    from tests.report.conftest import applications

    apps = spark.createDataFrame(applications())
    k3 = exports.to_open311_requests(apps, key=KEY, k=3, time_zone="Asia/Shanghai")
    assert [r["zipcode"] for r in k3.collect()] == ["330101"] * 3 + [None, None]
    k4 = exports.to_open311_requests(apps, key=KEY, k=4, time_zone="Asia/Shanghai")
    assert all(r["zipcode"] is None for r in k4.collect())
    k2 = exports.to_open311_requests(apps, key=KEY, k=2, time_zone="Asia/Shanghai")
    assert [r["zipcode"] for r in k2.collect()] == ["330101"] * 3 + ["330102"] * 2
    assert k2.collect()[0]["service_name"] == "I01"  # no catalog: the code


def test_json_array_from_many_parts_keeps_every_row_in_order(spark, tmp_path) -> None:
    from visitonce.report.stage import write_json_array

    df = spark.range(0, 1000, numPartitions=7).selectExpr("id AS n").orderBy("n")
    df = df.repartitionByRange(5, "n").sortWithinPartitions("n")
    target = tmp_path / "x.json"
    write_json_array(spark, exports.to_json_lines(df, prefix=","), str(target))
    got = json.loads(target.read_text("utf-8"))
    assert got == [{"n": i} for i in range(1000)]
    assert not (tmp_path / "x.json.parts").exists()
    empty = tmp_path / "e.json"
    write_json_array(spark, exports.to_json_lines(df.limit(0), prefix=","), str(empty))
    assert json.loads(empty.read_text("utf-8")) == []


def test_scorecard_records_are_json_ready() -> None:
    out = exports.scorecard_records(pd.DataFrame({"a": [1.5, float("nan")], "b": ["x", None]}))
    assert out == [{"a": 1.5, "b": "x"}, {"a": None, "b": None}]


def test_array_columns_export_as_lists_and_joined_csv_cells() -> None:
    """The scorecards table has an array column (unavailable_kpis), read back as numpy."""
    import numpy as np

    from visitonce.report.stage import _csv

    df = pd.DataFrame({"d": ["D1", "D2"], "u": [np.array(["a", "b"]), np.array([], dtype=object)]})
    assert exports.scorecard_records(df) == [{"d": "D1", "u": ["a", "b"]}, {"d": "D2", "u": []}]
    assert _csv(df).splitlines() == ["d,u", "D1,a;b", "D2,"]
