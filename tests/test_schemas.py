"""Contracts: every table has one, and types build for Spark and Arrow."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyspark.sql import types as T

from visitonce import columns as C
from visitonce import schemas

DESIGN_TABLES = {
    "events",
    "catalog",
    "roster",
    "quarantine",
    "applications",
    "bundles",
    "lagging_steps",
    "alerts",
    "scorecards",
    "manifest",
}


def test_every_design_table_has_a_contract() -> None:
    assert set(schemas.available()) >= DESIGN_TABLES


def test_events_contract_is_the_input_contract_plus_ingest_columns() -> None:
    events = schemas.load("events")
    input_cols = [c.name for c in events.columns if c.input]
    assert input_cols == list(C.EVENT_COLUMNS)
    required = [c.name for c in events.columns if c.input == "required"]
    assert required == list(C.REQUIRED_EVENT_COLUMNS)
    assert {c.name for c in events.columns if c.pseudonymized} == set(C.PSEUDONYMIZED_COLUMNS)
    assert events.column(C.CHANNEL).vocabulary == C.CHANNELS
    assert events.partition_by == (C.EVENT_DATE,)


def test_catalog_and_roster_columns_match_the_vocabulary() -> None:
    assert schemas.load("catalog").names == list(C.CATALOG_COLUMNS)
    assert set(schemas.load("roster").names) == set(C.ROSTER_COLUMNS)


@pytest.mark.parametrize(
    ("type_str", "spark_type", "arrow_type"),
    [
        ("string", T.StringType(), pa.string()),
        ("integer", T.IntegerType(), pa.int32()),
        ("long", T.LongType(), pa.int64()),
        ("timestamp", T.TimestampType(), pa.timestamp("us", tz="UTC")),
        ("date", T.DateType(), pa.date32()),
        ("array<string>", T.ArrayType(T.StringType()), pa.list_(pa.string())),
        (
            "map<string,long>",
            T.MapType(T.StringType(), T.LongType()),
            pa.map_(pa.string(), pa.int64()),
        ),
        (
            "array<map<string, double>>",
            T.ArrayType(T.MapType(T.StringType(), T.DoubleType())),
            pa.list_(pa.map_(pa.string(), pa.float64())),
        ),
    ],
)
def test_type_strings(type_str: str, spark_type: T.DataType, arrow_type: pa.DataType) -> None:
    assert schemas.spark_type(type_str) == spark_type
    assert schemas.arrow_type(type_str) == arrow_type


@pytest.mark.parametrize("bad", ["varchar", "array<string", "map<string>", "struct<a:int>"])
def test_unknown_types_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        schemas.spark_type(bad)


def test_every_contract_builds_both_schemas() -> None:
    for table in schemas.available():
        contract = schemas.load(table)
        assert schemas.spark_schema(contract).fieldNames() == contract.names
        assert schemas.arrow_schema(contract).names == contract.names


def test_check_schema_reports_missing_wrong_and_extra_columns(spark) -> None:
    contract = schemas.load("roster")
    df = spark.createDataFrame(
        [("2026-03-01", "D", "C", 3, "x")],
        "date string, department string, center string, officials_on_duty int, extra string",
    )
    problems = schemas.check_schema(df, contract)
    assert problems == [
        "roster.date: string != contract date",
        "roster: column extra not in contract",
    ]
    conformed = schemas.conform(df.drop("extra"), contract)
    assert schemas.check_schema(conformed, contract) == []
