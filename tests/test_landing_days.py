"""A landing laid out by day (events/date=YYYY-MM-DD/): a run with an interval reads only the
day folders that can hold its events, and ingests what a run reading everything would."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from visitonce import columns as C
from visitonce.cli import _summary
from visitonce.generate import generate
from visitonce.io import InputError, select_landing_days
from visitonce.mapping import load_mapping
from visitonce.pipeline import RunRequest, landing_days, run_pipeline

KEY = b"landing-days-test-key-0123456789"
TZ = "Asia/Shanghai"
UTC = dt.timezone.utc
D = dt.date.fromisoformat
ROOT = "file:/land/events"


# --- the landing days of an interval ---------------------------------------------------------


def test_landing_days_are_local_dates_with_a_day_before_and_the_late_days_after() -> None:
    # [2026-03-04 00:00, 2026-03-05 00:00) Shanghai, given in UTC: 03-03T16:00Z is local 03-04
    # (a UTC date would make the first folder 03-02), 03-04T16:00Z local 03-05.
    start = dt.datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
    end = dt.datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
    assert landing_days(start, end, time_zone=TZ, late_arrival_days=3) == (
        D("2026-03-03"),
        D("2026-03-08"),
    )
    assert landing_days(start, end, time_zone=TZ, late_arrival_days=0) == (
        D("2026-03-03"),
        D("2026-03-05"),
    )
    # the same instants are still 03-03 in New York
    assert landing_days(start, end, time_zone="America/New_York", late_arrival_days=1) == (
        D("2026-03-02"),
        D("2026-03-05"),
    )


def test_an_open_side_of_the_interval_is_unbounded() -> None:
    start = dt.datetime.fromisoformat("2026-03-04T00:00+08:00")
    assert landing_days(start, None, time_zone=TZ, late_arrival_days=3) == (D("2026-03-03"), None)
    assert landing_days(None, start, time_zone=TZ, late_arrival_days=3) == (None, D("2026-03-07"))
    assert landing_days(None, None, time_zone=TZ, late_arrival_days=3) == (None, None)


# --- selecting the files ---------------------------------------------------------------------

DAILY = [
    f"{ROOT}/archive/2025.csv",  # a folder that is not a day: read
    f"{ROOT}/date=2026-03-02/a.csv",
    f"{ROOT}/date=2026-03-03/a.csv",
    f"{ROOT}/date=2026-03-04/a.csv",
    f"{ROOT}/date=2026-03-04/b.csv",
    f"{ROOT}/event_date=2026-03-08/a.csv",
    f"{ROOT}/date=2026-03-09/hour=01/a.csv",  # deeper folders belong to their day folder
    f"{ROOT}/stray.csv",  # a file at the top: read
]


def test_only_the_day_folders_within_the_dates_are_read_and_strays_are_kept() -> None:
    got = select_landing_days(DAILY, root=ROOT, first=D("2026-03-03"), last=D("2026-03-08"))
    assert got.files == [
        f"{ROOT}/archive/2025.csv",
        f"{ROOT}/date=2026-03-03/a.csv",
        f"{ROOT}/date=2026-03-04/a.csv",
        f"{ROOT}/date=2026-03-04/b.csv",
        f"{ROOT}/event_date=2026-03-08/a.csv",
        f"{ROOT}/stray.csv",
    ]
    assert (got.layout, got.folders_read, got.folders_skipped) == ("daily", 3, 2)
    assert got.manifest(late_arrival_days=3) == {
        "layout": "daily",
        "folders_read": 3,
        "folders_skipped": 2,
        "late_arrival_days": 3,
    }
    # the root as the user typed it, with a trailing slash
    again = select_landing_days(DAILY, root=ROOT + "/", first=D("2026-03-03"), last=D("2026-03-08"))
    assert again == got


def test_open_sides_select_every_day_before_or_after() -> None:
    before = select_landing_days(DAILY, root=ROOT, first=None, last=D("2026-03-03"))
    assert before.files == [
        f"{ROOT}/archive/2025.csv",
        f"{ROOT}/date=2026-03-02/a.csv",
        f"{ROOT}/date=2026-03-03/a.csv",
        f"{ROOT}/stray.csv",
    ]
    assert (before.folders_read, before.folders_skipped) == (2, 3)
    after = select_landing_days(DAILY, root=ROOT, first=D("2026-03-05"), last=None)
    assert after.files == [
        f"{ROOT}/archive/2025.csv",
        f"{ROOT}/event_date=2026-03-08/a.csv",
        f"{ROOT}/date=2026-03-09/hour=01/a.csv",
        f"{ROOT}/stray.csv",
    ]
    assert (after.folders_read, after.folders_skipped) == (2, 3)
    everything = select_landing_days(DAILY, root=ROOT, first=None, last=None)
    assert everything.files == DAILY
    assert (everything.layout, everything.folders_read, everything.folders_skipped) == (
        "daily",
        5,
        0,
    )


def test_dates_that_select_no_folder_leave_only_the_strays() -> None:
    days = [f for f in DAILY if "date=" in f]
    got = select_landing_days(days, root=ROOT, first=D("2026-04-01"), last=D("2026-04-04"))
    assert got.files == []
    assert (got.layout, got.folders_read, got.folders_skipped) == ("daily", 0, 5)


def test_a_layout_without_day_folders_is_read_whole() -> None:
    flat = [
        f"{ROOT}/part-00000.csv",
        f"{ROOT}/2026/03/04.csv",
        f"{ROOT}/date=2026-03-01.csv",  # a file named like a day folder is no folder
        f"{ROOT}/date=2026-02-30/a.csv",  # no such day: not a day folder
        f"{ROOT}/x/date=2026-03-01/a.csv",  # not directly under the landing folder
    ]
    got = select_landing_days(flat, root=ROOT, first=D("2026-03-03"), last=D("2026-03-08"))
    assert got.files == flat
    assert got.layout == "flat"
    assert got.manifest(late_arrival_days=3) == {"layout": "flat"}
    # a file or a glob (no root): read whole even when its paths hold day folders
    glob = select_landing_days(DAILY, root=None, first=D("2026-03-03"), last=D("2026-03-08"))
    assert glob.files == DAILY and glob.layout == "flat"


# --- one landing, two runs -------------------------------------------------------------------

START = dt.datetime.fromisoformat("2026-03-04T00:00:00+08:00")
END = dt.datetime.fromisoformat("2026-03-05T00:00:00+08:00")
LATE_FROM = "2026-03-04T18:00"  # rows of 03-04 from 18:00 land in 03-05's folder


def _lay_out_by_day(tmp_path: Path) -> tuple[Path, dict[str, int], set[str], dict]:
    """A generated city's events moved into day folders by the local date they started (the
    day they landed), with late rows and a stray file at the top. Returns the events folder,
    the data rows of each written file (relative path), the late rows' event IDs and the
    truth."""
    truth = generate(
        tmp_path / "city", n_events=1500, seed=5, days=12, start=dt.date(2026, 3, 1), dirty=False
    )
    lines = (tmp_path / "city" / "events" / "part-00000.csv").read_text("utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    names = header.split(",")
    files: dict[str, list[str]] = {}
    late: set[str] = set()
    seen = {"2026-03-02": 0, "2026-03-04": 0}  # rows of these days so far
    for line in rows:
        (values,) = list(csv.reader([line]))  # one line, one record: the line is copied as is
        row = dict(zip(names, values, strict=True))
        started = row[C.STARTED_AT]  # the generator writes local times (+08:00)
        day = started[:10]
        if day in seen:
            seen[day] += 1
        if day == "2026-03-04" and started >= LATE_FROM:
            name = "date=2026-03-05/late.csv"
            late.add(row[C.EVENT_ID])
        elif (day == "2026-03-04" and seen[day] <= 5) or (day == "2026-03-02" and seen[day] % 2):
            name = "stray.csv"  # the first rows of 03-04, every other row of 03-02
        else:
            name = f"date={day}/part-00000.csv"
        files.setdefault(name, []).append(line)
    events = tmp_path / "landing" / "events"
    for name, data in files.items():
        (events / name).parent.mkdir(parents=True, exist_ok=True)
        (events / name).write_text("\n".join([header, *data]) + "\n", "utf-8")
    return events, {k: len(v) for k, v in files.items()}, late, truth


def test_a_daily_run_reads_its_landing_days_and_ingests_what_a_full_run_does(
    spark, tmp_path, capsys
) -> None:
    events, written, late, truth = _lay_out_by_day(tmp_path)
    folders = {name.split("/")[0] for name in written if "/" in name}
    assert len(folders) == 12 and late and written["stray.csv"] > 5

    def request(out: str, **interval: dt.datetime) -> RunRequest:
        return RunRequest(
            events=str(events),
            out=str(tmp_path / out),
            mapping=load_mapping("canonical"),
            key=KEY,
            as_of=dt.datetime.fromisoformat(truth["period_end"]),
            **interval,
        )

    daily = run_pipeline(spark, request("daily", start=START, end=END), stages=[])
    # Folders 03-03 through 03-08 (the day before the start; three late days after the end's
    # local date, 03-05), and the stray file at the top.
    selected = {f"date=2026-03-0{d}" for d in range(3, 9)}
    read = {name for name in written if name.split("/")[0] in selected or name == "stray.csv"}
    assert daily["landing"] == {
        "layout": "daily",
        "folders_read": 6,
        "folders_skipped": 6,
        "late_arrival_days": 3,
    }
    assert {s["file"].split("/events/", 1)[1] for s in daily["sources"]} == read
    assert daily["rows_read"] == sum(written[name] for name in read)
    assert daily["rows_read"] == daily["rows_in"] + daily["rows_out_of_interval"]
    assert daily["rows_in"] == (
        daily["rows_clean"] + daily["rows_quarantined"] + daily["rows_duplicate"]
    )
    assert daily["event_dates"] == ["2026-03-04"]
    _summary(daily, str(tmp_path / "daily"))  # what `visitonce run` prints after the run
    assert "landing by day: read 6 of 12 day folders" in capsys.readouterr().out

    full = run_pipeline(spark, request("full"), stages=[])
    assert full["landing"]["folders_read"] == 12 and full["landing"]["folders_skipped"] == 0
    assert full["rows_read"] == sum(written.values()) == truth["n_rows_written"]

    day = spark.read.parquet(str(tmp_path / "daily" / "events"))
    same_day = spark.read.parquet(str(tmp_path / "full" / "events")).where(
        F.col(C.EVENT_DATE) == dt.date(2026, 3, 4)
    )
    assert day.count() == daily["rows_clean"] > len(late)
    assertDataFrameEqual(day, same_day)
    landed_late = day.where(F.col(C.SOURCE_FILE).endswith("date=2026-03-05/late.csv"))
    assert {r[C.EVENT_ID] for r in landed_late.select(C.EVENT_ID).collect()} == late


def test_an_interval_with_no_landing_folder_says_so_in_one_line(spark, tmp_path) -> None:
    events = tmp_path / "events"
    (events / "date=2026-03-01").mkdir(parents=True)
    (events / "date=2026-03-01" / "a.csv").write_text("event_id\nE1\n")
    start = dt.datetime.fromisoformat("2026-03-10T00:00:00+08:00")
    req = RunRequest(
        events=str(events),
        out=str(tmp_path / "out"),
        mapping=load_mapping("canonical"),
        key=KEY,
        as_of=start,
        start=start,
        end=start + dt.timedelta(days=1),
    )
    with pytest.raises(InputError) as e:
        run_pipeline(spark, req, stages=[])
    message = str(e.value)
    assert "\n" not in message
    assert "no landing folder" in message and "2026-03-10T00:00:00+08:00" in message
    assert "2026-03-09 through 2026-03-14" in message and "late_arrival_days=3" in message
    assert not (tmp_path / "out").exists()
