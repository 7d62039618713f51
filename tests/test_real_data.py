"""Real public logs (../shared/data, see its SOURCES.md) through the built-in source mappings:
every row accounted for, and facts the files state reproduced by a direct pandas count."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce import ingest, io
from visitonce.columns import Reason
from visitonce.mapping import load_mapping

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
AS_OF = dt.datetime(2025, 12, 1, tzinfo=dt.timezone.utc)
pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"the shared public data folder is absent ({DATA})"
)


def _ingest(spark, path: Path, source: str):
    """Tagged rows (status, reason, duplicate_kind) of a file through a built-in mapping."""
    mapping = load_mapping(source)
    raw = io.read_raw(spark, str(path), mapping=mapping)
    canonical = ingest.with_values_json(
        ingest.with_pseudonyms(ingest.to_canonical(raw.df, mapping=mapping), key=b"k" * 32)
    )
    parsed = ingest.with_parsed(canonical, mapping=mapping, time_zone="UTC", latest_allowed=AS_OF)
    return ingest.flag_duplicates(parsed).cache()


def _status(tagged) -> dict[str, int]:
    return {r[0]: r[1] for r in tagged.groupBy(ingest.STATUS).count().collect()}


def _top(tagged, column: str, n: int = 5) -> list[tuple[str, int]]:
    """The most frequent values among all rows (clean, quarantined and duplicate alike)."""
    rows = tagged.groupBy(column).count().orderBy(F.desc("count"), column).limit(n).collect()
    return [(r[0], r[1]) for r in rows]


def _pandas_top(series: pd.Series, n: int = 5) -> list[tuple[str, int]]:
    counts = series.value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(k, int(v)) for k, v in ordered[:n]]


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_receipt_csv_gives_1434_cases_and_8577_events(spark) -> None:
    tagged = _ingest(spark, DATA / "eventlogs" / "receipt.csv", "eventlog-csv")
    assert _status(tagged) == {ingest.CLEAN: 8_577}
    clean = ingest.to_clean(tagged)
    assert clean.select(C.APPLICATION_ID).distinct().count() == 1_434
    # completion-only log: each step starts when the case's previous step ended
    firsts = clean.where(F.col(C.STARTED_AT) == F.col(C.ENDED_AT)).count()
    assert firsts == 1_434
    channels = {r[0] for r in clean.select(C.CHANNEL).distinct().collect()}
    assert channels <= {"online", "counter", "mail"}


def test_receipt_xes_matches_the_csv_export(spark) -> None:
    tagged = _ingest(spark, DATA / "eventlogs" / "08_receipt.xes.gz", "xes")
    assert _status(tagged) == {ingest.CLEAN: 8_577}
    clean = ingest.to_clean(tagged)
    assert clean.select(C.APPLICATION_ID).distinct().count() == 1_434
    assert clean.select(
        F.col("source_file").endswith("08_receipt.xes.gz").alias("f")
    ).distinct().collect() == [(True,)]


def test_nyc_2013_12_25_counts_and_top_items_match_the_file(spark) -> None:
    path = DATA / "nyc311" / "2013-12-25.csv"
    direct = _csv(path)
    tagged = _ingest(spark, path, "nyc311")
    status = _status(tagged)
    assert sum(status.values()) == len(direct) == 2_386
    # one DOHMH request was closed two months before it was created (10/30 vs 12/25/2013)
    assert status == {ingest.CLEAN: 2_385, ingest.QUARANTINED: 1}
    bad = tagged.where(F.col(ingest.STATUS) == ingest.QUARANTINED).first()
    assert (bad[C.APPLICATION_ID], bad[C.REASON]) == ("26984786", Reason.END_BEFORE_START)
    assert _top(tagged, C.SERVICE_ITEM) == _pandas_top(direct["Complaint Type"])
    assert _top(tagged, C.DEPARTMENT) == _pandas_top(direct["Agency"])
    clean = ingest.to_clean(tagged)
    # open requests (no closed date) are kept open
    assert clean.where(F.col(C.ENDED_AT).isNull()).count() == (direct["Closed Date"] == "").sum()
    assert clean.where(F.col(C.CHANNEL) != "other").count() == 0  # 2013 schema: no channel
    # the portal's 12-hour clock, read in New York time: 11:59:08 PM EST = 04:59:08 UTC next day
    row = clean.where(F.col(C.APPLICATION_ID) == "26984072").first()
    assert row[C.STARTED_AT] == dt.datetime(2013, 12, 26, 4, 59, 8)
    assert row[C.LOCATION] == "952 EAST 58 STREET"


def test_nyc_sentinel_closed_dates_are_quarantined_with_their_reason(spark) -> None:
    path = DATA / "nyc311" / "dohmh-illegal-animals-2010-2025.csv"
    direct = _csv(path)
    tagged = _ingest(spark, path, "nyc311")
    status = _status(tagged)
    assert sum(status.values()) == len(direct) == 5_895
    sentinels = direct["Closed Date"].str.startswith("01/01/1900").sum()
    assert sentinels > 0
    reasons = {
        r[0]: r[1]
        for r in tagged.where(F.col(ingest.STATUS) == ingest.QUARANTINED)
        .groupBy(C.REASON)
        .count()
        .collect()
    }
    assert reasons.get(Reason.SENTINEL_TIMESTAMP) == sentinels
    channels = {r[0]: r[1] for r in ingest.to_clean(tagged).groupBy(C.CHANNEL).count().collect()}
    assert set(channels) <= {"online", "hotline", "other", "mobile"}
    assert (
        channels["hotline"]
        == (direct["Open Data Channel Type"] == "PHONE").sum()
        - (
            direct["Open Data Channel Type"].eq("PHONE")
            & direct["Closed Date"].str.startswith("01/01/1900")
        ).sum()
    )


def test_boston_open_cases_stay_open(spark) -> None:
    path = DATA / "boston311" / "2025-open-cases.csv"
    direct = _csv(path)
    tagged = _ingest(spark, path, "boston311")
    assert _status(tagged) == {ingest.CLEAN: len(direct)} == {ingest.CLEAN: 2_424}
    clean = ingest.to_clean(tagged)
    assert clean.where(F.col(C.ENDED_AT).isNotNull()).count() == 0
    assert _top(tagged, C.SERVICE_ITEM, 3) == _pandas_top(direct["type"], 3)
    assert (
        clean.where(F.col(C.CHANNEL) == "mobile").count()
        == (direct["source"] == "Citizens Connect App").sum()
    )


def test_ottawa_2014_every_row_accounted_and_august_repeats_are_duplicates(spark) -> None:
    folder = DATA / "ottawa311-2014"
    files = sorted(folder.glob("*.csv"))
    direct = pd.concat([_csv(f).assign(file=f.name) for f in files])
    key = [
        "creation_date",
        "ward",
        "call_description",
        "call_type",
        "maintenance_yard",
        "priority_name",
    ]
    # A row's identity is its values and its occurrence among identical rows of its file, so
    # the copies are, per set of identical rows, all but those of the file holding the most.
    per_file = direct.assign(_v=direct[key].apply(lambda r: "\x1f".join(r.str.strip()), axis=1))
    counts = per_file.groupby(["_v", "file"]).size().groupby(level=0).agg(["sum", "max"])
    expected_dups = int((counts["sum"] - counts["max"]).sum())

    tagged = _ingest(spark, folder, "ottawa311")
    status = _status(tagged)
    assert sum(status.values()) == len(direct) == 127_188
    # Quarantined rows keep their reason and are never deduplicated, so copies of a row that
    # fails validation are counted there, not as duplicates.
    dups, quarantined = status.get(ingest.DUPLICATE, 0), status.get(ingest.QUARANTINED, 0)
    assert expected_dups - quarantined <= dups <= expected_dups
    aug_jan = tagged.where(
        F.col(C.SOURCE_FILE).endswith("AugSR-2014.csv")
        & F.col(C.STARTED_AT).isNotNull()
        & (F.month(F.from_utc_timestamp(C.STARTED_AT, "America/Toronto")) == 1)
    )
    in_file = direct[direct["file"] == "AugSR-2014.csv"]["creation_date"].str.startswith("2014-Jan")
    assert aug_jan.count() == in_file.sum() >= 2_284
    # every January row of August's file is a copy of a January-file row (same derived ID);
    # which of two copies is kept is not tied to the file, so the count is what is checked
    jan = tagged.where(F.col(C.SOURCE_FILE).endswith("JanSR-2014.csv")).select(C.APPLICATION_ID)
    assert aug_jan.join(jan, C.APPLICATION_ID, "left_anti").count() == 0
    # three date layouts, all parsed; ward spellings normalized
    assert (
        status.get(ingest.QUARANTINED, 0)
        == tagged.where(
            F.col(C.REASON).isNotNull() & (F.col(C.REASON) != Reason.BAD_TIMESTAMP)
        ).count()
    )
    wards = {r[0] for r in ingest.to_clean(tagged).select(C.DISTRICT).distinct().collect()}
    assert {"W01", "W14", "W23"} <= wards and "WARD 14" not in wards and "Ward 2" not in wards
