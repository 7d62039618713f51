"""Built-in source mappings on hand-written exports, and a run without a catalog."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.config import ConfigError
from visitonce.mapping import builtin_names, load_mapping, parse_mapping
from visitonce.pipeline import RunRequest, run_pipeline

KEY = b"builtin-mapping-test-key-0123"

# GeoReport v2 GET /requests.json: a JSON array, fields as the spec names them.
OPEN311 = [
    {
        "service_request_id": "638344",
        "status": "closed",
        "status_notes": "Duplicate request.",
        "service_name": "Sidewalk and Curb Issues",
        "service_code": "006",
        "agency_responsible": "Department of Public Works",
        "requested_datetime": "2010-04-14T06:37:38-08:00",
        "updated_datetime": "2010-04-14T15:37:38-08:00",
        "address": "8TH AVE and JUDAH ST",
        "zipcode": "94122",
        "lat": 37.762221815,
        "long": -122.4651145,
    },
    {
        "service_request_id": "638349",
        "status": "open",
        "service_name": "Sidewalk and Curb Issues",
        "service_code": "006",
        "agency_responsible": "Department of Public Works",
        "requested_datetime": "2010-04-19T06:37:38-08:00",
        "updated_datetime": "2010-04-19T15:37:38-08:00",
        "address": "8TH AVE and JUDAH ST",
        "lat": 37.762221815,
        "long": -122.4651145,
    },
    {
        "service_request_id": "638351",
        "status": "closed",
        "service_name": "Graffiti Removal",
        "service_code": "011",
        "agency_responsible": "Department of Public Works",
        "requested_datetime": "2010-04-19T08:00:00-08:00",
        "updated_datetime": "2010-04-18T08:00:00-08:00",
        "lat": 37.7,
        "long": -122.4,
    },
    {
        "service_request_id": "638360",
        "status": "closed",
        "service_name": "Abandoned Vehicle",
        "service_code": "021",
        "agency_responsible": "Municipal Transportation Agency",
        "requested_datetime": "2010-04-20T09:00:00-08:00",
        "updated_datetime": "2010-04-22T09:00:00-08:00",
        "address": "100 MARKET ST",
    },
]


def test_every_builtin_mapping_loads() -> None:
    names = set(builtin_names())
    assert {"canonical", "nyc311", "boston311", "open311", "eventlog-csv", "xes"} <= names
    assert {"ottawa311"} <= names
    for name in names:
        load_mapping(name)
    assert load_mapping("xes").format == "xes"
    assert load_mapping("nyc311").sentinels == {
        C.ENDED_AT: ("1900-01-01",),
        C.DUE_AT: ("1900-01-01",),
    }
    assert load_mapping("nyc311").columns[C.DUE_AT] == "Due Date"
    assert load_mapping("open311").columns[C.DUE_AT] == "expected_datetime"
    assert load_mapping("boston311").columns[C.DUE_AT] == "sla_target_dt"
    nyc = load_mapping("nyc311")
    assert nyc.columns[C.LOCATION] == "Incident Address"
    assert nyc.fallbacks[C.LOCATION] == ("BBL", "Location")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"sentinels": {"step": ["1900-01-01"]}}, "sentinels.step: only"),
        ({"sentinels": {"ended_at": ["01/01/1900"]}}, "is not an ISO date"),
        ({"derive": {"application_id": "hash"}}, "derive.application_id must be"),
        ({"keep_if": {"ended_at": "closed"}}, "keep_if.ended_at must be"),
        ({"defaults": {"colour": "red"}}, "not contract columns"),
    ],
)
def test_new_mapping_keys_give_one_line_errors(doc, message) -> None:
    with pytest.raises(ConfigError) as e:
        parse_mapping(doc, where="m.yaml")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_open311_requests_without_a_catalog(spark, tmp_path: Path) -> None:
    landing = tmp_path / "open311"
    landing.mkdir()
    (landing / "requests.json").write_text(json.dumps(OPEN311, indent=2), "utf-8")
    req = RunRequest(
        events=str(landing),
        out=str(tmp_path / "out"),
        mapping=load_mapping("open311"),
        key=KEY,
        as_of=dt.datetime(2010, 5, 1, tzinfo=dt.timezone.utc),
    )
    m = run_pipeline(spark, req, stages=[])
    assert (m["rows_in"], m["rows_clean"], m["rows_quarantined"]) == (4, 3, 1)
    assert m["quarantine_reasons"] == {"end_before_start": 1}  # updated before requested

    events = {r[C.EVENT_ID]: r for r in spark.read.parquet(f"{req.out}/events").collect()}
    closed, still_open = events["638344"], events["638349"]
    assert closed[C.STARTED_AT] == dt.datetime(2010, 4, 14, 14, 37, 38)  # -08:00 -> UTC
    assert closed[C.ENDED_AT] == dt.datetime(2010, 4, 14, 23, 37, 38)
    # updated_datetime of an open request is not its end: the request stays open
    assert still_open[C.ENDED_AT] is None
    assert (closed[C.SERVICE_ITEM], closed[C.LOCATION], closed[C.DISTRICT]) == (
        "006",
        "8TH AVE and JUDAH ST",
        "94122",
    )
    assert closed[C.CHANNEL] == "other"  # GeoReport v2 does not record the channel

    # Without --catalog: items and their departments derived; what only a catalog knows is null.
    catalog = spark.read.parquet(f"{req.out}/catalog").orderBy(C.SERVICE_ITEM).collect()
    assert [(r[C.SERVICE_ITEM], r[C.DEPARTMENT]) for r in catalog] == [
        ("006", "Department of Public Works"),
        ("021", "Municipal Transportation Agency"),
    ]
    assert all(
        r[C.COMPLEXITY] is None and r[C.TIME_LIMIT_DAYS] is None and r[C.ONLINE_CAPABLE] is None
        for r in catalog
    )
    ref = m["reference"]["catalog"]
    assert ref["derived"] is True and ref["rows_clean"] == 2
    assert ref["unavailable"] == [C.COMPLEXITY, C.TIME_LIMIT_DAYS, C.ONLINE_CAPABLE]
    apps = spark.read.parquet(f"{req.out}/applications")
    assert apps.where(F.col(C.ON_TIME_STATUS) != "no_limit").count() == 0  # not invented
    assert "catalog" in m["outputs"]


def test_derived_catalog_owner_is_the_most_frequent_department(spark) -> None:
    from visitonce.ingest import to_derived_catalog

    events = spark.createDataFrame(
        [("A", "d2"), ("A", "d1"), ("A", "d2"), ("B", "d1"), ("B", "d0")],
        [C.SERVICE_ITEM, C.DEPARTMENT],
    )
    got = {r[C.SERVICE_ITEM]: r[C.DEPARTMENT] for r in to_derived_catalog(events).collect()}
    assert got == {"A": "d2", "B": "d0"}  # a tie goes to the first department by name
