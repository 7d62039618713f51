"""Tests of the synthetic generator: the files it writes, determinism, and the planted truth.

The rows are read back with plain ``csv`` / ``json`` / ``pyarrow`` and checked by a small
independent validator (``_reasons``), so that these tests do not trust the generator's own
bookkeeping.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from visitonce import columns as col
from visitonce.columns import Reason
from visitonce.generate import generate

N_EVENTS = 40_000
CHUNK = 15_000  # several parts per run
SEED = 11
CONTACT = ("counter", "self_service")


# --- reading the files back ----------------------------------------------------------------------
def _read(out: Path, fmt: str) -> tuple[list[dict[str, str | None]], list[str]]:
    """All rows of the event parts in file order, and the raw text of the malformed lines."""
    rows: list[dict[str, str | None]] = []
    malformed: list[str] = []
    parts = sorted((out / "events").glob(f"part-*.{fmt}"))
    assert parts, "no event parts written"
    for part in parts:
        if fmt == "parquet":
            table = pq.read_table(part)
            assert table.column_names == list(col.EVENT_COLUMNS)
            assert all(str(t) == "string" for t in table.schema.types)
            rows.extend(table.to_pylist())
        elif fmt == "csv":
            with part.open(encoding="utf-8", newline="") as fh:
                reader = csv.reader(fh)
                assert next(reader) == list(col.EVENT_COLUMNS)
                for fields in reader:
                    if len(fields) != len(col.EVENT_COLUMNS):
                        malformed.append(",".join(fields))
                        continue
                    rows.append(
                        {k: (v or None) for k, v in zip(col.EVENT_COLUMNS, fields, strict=True)}
                    )
        else:
            for line in part.read_text(encoding="utf-8").splitlines():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    malformed.append(line)
                    continue
                assert list(obj) == list(col.EVENT_COLUMNS)
                rows.append(obj)
    return rows, malformed


def _ts(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _reasons(row: dict[str, str | None], items: set[str], period_end: datetime) -> set[str]:
    """Every quarantine reason that applies to a parsed row (an independent validator)."""
    out: set[str] = set()
    if any(row[c] in (None, "") for c in col.REQUIRED_EVENT_COLUMNS):
        out.add(Reason.MISSING_REQUIRED)
    stamps: dict[str, datetime] = {}
    for c in col.TIMESTAMP_COLUMNS:
        value = row[c]
        if value is None:
            continue
        parsed = _ts(value)
        if parsed is None:
            out.add(Reason.BAD_TIMESTAMP)
        else:
            stamps[c] = parsed
    if (row[col.CHANNEL] is not None and row[col.CHANNEL] not in col.CHANNELS) or (
        row[col.CITIZEN_TYPE] is not None and row[col.CITIZEN_TYPE] not in col.CITIZEN_TYPES
    ):
        out.add(Reason.BAD_VOCABULARY)
    sat = row[col.SATISFACTION]
    if sat is not None and not (sat.isdigit() and 1 <= int(sat) <= 5):
        out.add(Reason.BAD_SATISFACTION)
    if row[col.PHYSICAL_VISIT] not in (None, "true", "false"):
        out.add(Reason.BAD_BOOLEAN)
    arrived = stamps.get(col.ARRIVED_AT)
    start, end = stamps.get(col.STARTED_AT), stamps.get(col.ENDED_AT)
    if start and end and end < start:
        out.add(Reason.END_BEFORE_START)
    if start and arrived and arrived > start:
        out.add(Reason.ARRIVAL_AFTER_START)
    if any(t > period_end + timedelta(days=2) for t in stamps.values()):
        out.add(Reason.FUTURE_TIMESTAMP)
    if row[col.SERVICE_ITEM] is not None and row[col.SERVICE_ITEM] not in items:
        out.add(Reason.UNKNOWN_SERVICE_ITEM)
    return out


def _valid_frame(rows: list[dict[str, str | None]], truth: dict) -> pd.DataFrame:
    """The valid rows: planted dirty rows and duplicates removed, one row per event_id."""
    dirty = {i for ids in truth["dirty_event_ids"].values() for i in ids}
    df = pd.DataFrame(rows, columns=list(col.EVENT_COLUMNS))
    df = df[~df[col.EVENT_ID].isin(dirty)]
    stale = (
        df[col.EVENT_ID].isin(truth["duplicate_event_ids"]["same_event"]) & df[col.ENDED_AT].isna()
    )
    df = df[~stale].drop_duplicates()
    return df.reset_index(drop=True)


def _with_times(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in col.TIMESTAMP_COLUMNS:
        df[c + "_t"] = pd.to_datetime(df[c], format="ISO8601")
    df["wait_s"] = (df.started_at_t - df.arrived_at_t).dt.total_seconds()
    df["proc_s"] = (df.ended_at_t - df.started_at_t).dt.total_seconds()
    return df


# --- fixtures ------------------------------------------------------------------------------------
class Run:
    """One generated output directory, read back."""

    def __init__(self, out: Path, truth: dict, fmt: str, progress: list[tuple[int, int]]):
        self.out, self.truth, self.fmt, self.progress = out, truth, fmt, progress
        self.rows, self.malformed = _read(out, fmt)
        self.valid = _valid_frame(self.rows, truth)
        self.items = set(pd.read_csv(out / "catalog.csv")[col.SERVICE_ITEM])
        self.period_end = datetime.fromisoformat(truth["period_end"])


def _run(tmp_path_factory: pytest.TempPathFactory, fmt: str) -> Run:
    out = tmp_path_factory.mktemp(fmt)
    calls: list[tuple[int, int]] = []
    truth = generate(
        out,
        n_events=N_EVENTS,
        seed=SEED,
        fmt=fmt,  # type: ignore[arg-type]
        chunk_events=CHUNK,
        progress=lambda done, total: calls.append((done, total)),
    )
    return Run(out, truth, fmt, calls)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(tmp_path_factory, "csv")


@pytest.fixture(scope="module")
def events(run: Run) -> pd.DataFrame:
    return _with_times(run.valid)


# --- arguments and files -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [{"n_events": 999}, {"days": 6}, {"fmt": "xml"}, {"chunk_events": 10}, {"seed": -1}],
)
def test_bad_arguments_raise_a_one_line_value_error(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError) as err:
        generate(tmp_path, **kwargs)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "events").exists()


def test_truth_json_is_the_returned_truth(run: Run) -> None:
    assert json.loads((run.out / "truth.json").read_text(encoding="utf-8")) == run.truth
    assert run.truth["time_zone"] == "Asia/Shanghai"
    assert run.truth["period_start"] == "2026-03-01T00:00:00+08:00"
    assert run.truth["period_end"] == "2026-04-01T00:00:00+08:00"


def test_row_identity_holds_on_the_files_written(run: Run) -> None:
    t = run.truth
    n_lines = len(run.rows) + len(run.malformed)
    assert n_lines == t["n_rows_written"]
    assert t["n_rows_written"] == (
        t["n_events_valid"]
        + sum(t["dirty"].values())
        + t["duplicates"]["exact"]
        + t["duplicates"]["same_event"]
    )
    assert len(run.valid) == run.valid[col.EVENT_ID].nunique() == t["n_events_valid"]
    assert abs(t["n_events_valid"] - N_EVENTS) < 0.03 * N_EVENTS
    assert run.valid[col.APPLICATION_ID].nunique() == t["n_applications"]
    assert len(list((run.out / "events").glob("part-*.csv"))) == 3


def test_dirty_and_duplicate_shares(run: Run) -> None:
    t = run.truth
    assert set(t["dirty"]) == {
        Reason.MALFORMED_ROW,
        Reason.MISSING_REQUIRED,
        Reason.BAD_TIMESTAMP,
        Reason.BAD_VOCABULARY,
        Reason.BAD_SATISFACTION,
        Reason.BAD_BOOLEAN,
        Reason.END_BEFORE_START,
        Reason.ARRIVAL_AFTER_START,
        Reason.FUTURE_TIMESTAMP,
        Reason.UNKNOWN_SERVICE_ITEM,
    }
    assert all(n >= 3 for n in t["dirty"].values())
    assert {k: len(v) for k, v in t["dirty_event_ids"].items()} == t["dirty"]
    assert {k: len(v) for k, v in t["duplicate_event_ids"].items()} == t["duplicates"]
    rows = t["n_rows_written"]
    assert 0.003 < sum(t["dirty"].values()) / rows < 0.008
    assert 0.002 < sum(t["duplicates"].values()) / rows < 0.005


def test_each_dirty_row_has_its_one_defect_and_valid_rows_have_none(run: Run) -> None:
    by_id: dict[str, list[dict[str, str | None]]] = {}
    for row in run.rows:
        by_id.setdefault(str(row[col.EVENT_ID]), []).append(row)
    for reason, ids in run.truth["dirty_event_ids"].items():
        for event_id in ids:
            if reason == Reason.MALFORMED_ROW:
                # an unquoted comma: one field too many, the event_id still first
                assert any(line.startswith(event_id + ",") for line in run.malformed)
                assert event_id not in by_id
                continue
            (row,) = by_id[event_id]
            assert _reasons(row, run.items, run.period_end) == {reason}, (reason, row)
    assert len(run.malformed) == run.truth["dirty"][Reason.MALFORMED_ROW]
    for row in run.valid.to_dict("records"):
        assert _reasons(row, run.items, run.period_end) == set(), row


def test_duplicates_are_copies_of_valid_rows(run: Run) -> None:
    by_id: dict[str, list[dict[str, str | None]]] = {}
    for row in run.rows:
        by_id.setdefault(str(row[col.EVENT_ID]), []).append(row)
    for event_id in run.truth["duplicate_event_ids"]["exact"]:
        first, second = by_id[event_id]
        assert first == second
    for event_id in run.truth["duplicate_event_ids"]["same_event"]:
        pair = by_id[event_id]
        assert len(pair) == 2
        stale = next(r for r in pair if r[col.ENDED_AT] is None)
        fresh = next(r for r in pair if r[col.ENDED_AT] is not None)
        assert stale[col.SATISFACTION] is None
        keep = [c for c in col.EVENT_COLUMNS if c not in (col.ENDED_AT, col.SATISFACTION)]
        assert [stale[c] for c in keep] == [fresh[c] for c in keep]
    # no other event_id repeats
    planted = {i for ids in run.truth["duplicate_event_ids"].values() for i in ids}
    assert {i for i, rs in by_id.items() if len(rs) > 1} == planted


def test_valid_timestamps_are_within_the_period_with_offset(run: Run, events: pd.DataFrame) -> None:
    start = datetime.fromisoformat(run.truth["period_start"])
    # the generator has no per-case due dates: due_at is written, and empty
    assert events[col.DUE_AT].isna().all()
    for c in (c for c in col.TIMESTAMP_COLUMNS if c != col.DUE_AT):
        values = events[c].dropna()
        assert values.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00").all()
        assert (events[c + "_t"].dropna() <= run.period_end).all()
        assert (events[c + "_t"].dropna() >= start).all()


def test_steps_are_consistent(run: Run, events: pd.DataFrame) -> None:
    ev = events
    assert (ev.wait_s.dropna() >= 0).all() and (ev.proc_s.dropna() >= 0).all()
    # contact steps happen in a centre, in person, with a queue ticket; back-office steps
    # carry the application's channel
    physical = ev[col.PHYSICAL_VISIT] == "true"
    assert set(ev[col.PHYSICAL_VISIT]) == {"true", "false"}
    assert (physical == ev[col.CENTER].notna()).all()
    assert ev.loc[physical, col.CHANNEL].isin(CONTACT).all()
    assert (ev[col.ARRIVED_AT].notna() <= physical).all()
    assert ev.loc[physical & ev[col.ENDED_AT].notna(), col.ARRIVED_AT].notna().all()
    per_app = ev.groupby(col.APPLICATION_ID)
    assert per_app.size().between(1, 5).all()
    assert (per_app.size() >= 2).mean() > 0.95
    # an open application has one open step, its last one
    open_rows = ev[ev[col.ENDED_AT].isna()]
    assert open_rows[col.APPLICATION_ID].is_unique
    assert len(open_rows) == run.truth["n_open_applications"] > 0
    last_start = per_app.started_at_t.max()
    assert (open_rows.started_at_t.values == last_start[open_rows[col.APPLICATION_ID]].values).all()
    assert (open_rows[col.SATISFACTION].isna()).all()
    # satisfaction only on the last step of completed applications, and not on all of them
    rated = ev[ev[col.SATISFACTION].notna()]
    assert (rated.started_at_t.values == last_start[rated[col.APPLICATION_ID]].values).all()
    completed = ev.groupby(col.APPLICATION_ID)[col.ENDED_AT].apply(lambda s: s.notna().all())
    assert 0.2 < len(rated) / completed.sum() < 0.8
    # ids have their documented shapes
    assert ev[col.CITIZEN_ID].dropna().str.fullmatch(r"P\d{7}|E\d{6}").all()
    assert ev[col.OFFICIAL].dropna().str.fullmatch(r"O\d{5}").all()
    assert ev[col.LOCATION].dropna().str.fullmatch(r"grid-\d{4,}").all()
    anonymous = ev[col.CITIZEN_ID].isna()
    assert (ev.loc[anonymous, col.SERVICE_ITEM].isin(_hotline_items(ev))).all()


def _hotline_items(ev: pd.DataFrame) -> set[str]:
    return set(ev.loc[ev[col.CHANNEL] == "hotline", col.SERVICE_ITEM])


def test_catalog_and_roster(run: Run, events: pd.DataFrame) -> None:
    catalog = pd.read_csv(run.out / "catalog.csv", dtype=str, keep_default_na=False)
    assert list(catalog.columns) == list(col.CATALOG_COLUMNS)
    assert 30 <= len(catalog) <= 60 and catalog[col.SERVICE_ITEM].is_unique
    assert catalog[col.DEPARTMENT].nunique() >= 10
    assert catalog[col.COMPLEXITY].astype(int).between(1, 5).all()
    assert (catalog[col.TIME_LIMIT_DAYS].astype(int) >= 0).all()
    assert set(catalog[col.ONLINE_CAPABLE]) == {"true", "false"}
    assert catalog[col.ITEM_NAME].str.len().gt(0).all()
    assert set(events[col.SERVICE_ITEM]) == set(catalog[col.SERVICE_ITEM])

    roster = pd.read_csv(run.out / "roster.csv", dtype=str, keep_default_na=False)
    assert list(roster.columns) == list(col.ROSTER_COLUMNS)
    assert not roster.duplicated([col.DATE, col.DEPARTMENT, col.CENTER]).any()
    assert (roster[col.OFFICIALS_ON_DUTY].astype(int) >= 1).all()
    assert roster[col.DATE].min() == "2026-03-01" and roster[col.DATE].max() == "2026-03-31"
    assert roster[col.CENTER].nunique() >= 5  # four+ centres and the back offices ("")
    daily = roster.assign(n=roster[col.OFFICIALS_ON_DUTY].astype(int)).groupby(col.DATE).n.sum()
    weekday = pd.to_datetime(daily.index).dayofweek
    assert daily[weekday >= 5].mean() < 0.5 * daily[weekday < 5].mean()
    assert daily[weekday < 5].nunique() > 5  # absences vary day by day
    # every valid step's department works that day (a roster row exists)
    ev = events.assign(date=events[col.STARTED_AT].str[:10])
    units = set(zip(roster[col.DATE], roster[col.DEPARTMENT], strict=True))
    steps = set(zip(ev.date, ev[col.DEPARTMENT], strict=True))
    assert len(steps - units) / len(steps) < 0.02  # open steps queued on a closed day


def test_understaffed_department_is_cut_and_slower(run: Run, events: pd.DataFrame) -> None:
    under = run.truth["understaffed"]
    roster = pd.read_csv(run.out / "roster.csv", dtype=str, keep_default_na=False)
    roster = roster[roster[col.DEPARTMENT] == under["department"]]
    daily = roster.assign(n=roster[col.OFFICIALS_ON_DUTY].astype(int)).groupby(col.DATE).n.sum()
    weekday = pd.to_datetime(daily.index).dayofweek < 5
    cut = daily.index.isin(under["dates"])
    assert daily[cut & weekday].mean() < 0.7 * daily[~cut & weekday].mean()
    # fewer officials, same demand: longer queues that week
    mine = events[(events[col.DEPARTMENT] == under["department"]) & events.wait_s.notna()]
    day = mine[col.ARRIVED_AT].str[:10]
    on_weekday = pd.to_datetime(day).dt.dayofweek < 5
    in_week = day.isin(under["dates"])
    waits = mine.wait_s
    assert waits[in_week & on_weekday].mean() > 1.5 * waits[~in_week & on_weekday].mean()


# --- determinism and formats ---------------------------------------------------------------------
def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    kwargs = {"n_events": 12_000, "chunk_events": 5_000, "start": date(2026, 5, 4), "days": 14}
    generate(tmp_path / "a", seed=3, **kwargs)
    generate(tmp_path / "b", seed=3, **kwargs)
    generate(tmp_path / "c", seed=4, **kwargs)
    a, b, c = (_files(tmp_path / x) for x in "abc")
    assert len(a) == 3 + 3 and a == b
    assert a["events/part-00000.csv"] != c["events/part-00000.csv"]
    assert a["catalog.csv"] == c["catalog.csv"]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_other_formats_write_the_same_valid_rows(
    tmp_path_factory: pytest.TempPathFactory, run: Run, fmt: str
) -> None:
    other = _run(tmp_path_factory, fmt)

    def key(df: pd.DataFrame) -> pd.DataFrame:
        return df.sort_values(col.EVENT_ID).reset_index(drop=True)

    pd.testing.assert_frame_equal(key(other.valid), key(run.valid))
    assert other.truth["n_events_valid"] == run.truth["n_events_valid"]
    assert other.truth["duplicates"] == run.truth["duplicates"]
    if fmt == "parquet":
        assert other.truth["dirty"][Reason.MALFORMED_ROW] == 0 and not other.malformed
    else:
        # truncated JSON lines that still start with their event_id
        ids = other.truth["dirty_event_ids"][Reason.MALFORMED_ROW]
        assert len(other.malformed) == len(ids) >= 3
        assert all(any(f'"{i}"' in line for line in other.malformed) for i in ids)
    assert len(other.rows) + len(other.malformed) == other.truth["n_rows_written"]


def test_clean_run_has_no_dirty_rows(tmp_path: Path) -> None:
    truth = generate(tmp_path, n_events=5_000, seed=2, dirty=False, fmt="jsonl")
    rows, malformed = _read(tmp_path, "jsonl")
    assert not malformed
    assert set(truth["dirty"].values()) == {0} and set(truth["duplicates"].values()) == {0}
    assert truth["n_rows_written"] == truth["n_events_valid"] == len(rows)
    assert len({r[col.EVENT_ID] for r in rows}) == len(rows)


def test_progress_is_reported_after_each_chunk(run: Run) -> None:
    assert len(run.progress) == 3
    assert [total for _, total in run.progress] == [N_EVENTS] * 3
    done = [d for d, _ in run.progress]
    assert done == sorted(done) and done[-1] == N_EVENTS


# --- planted truth -------------------------------------------------------------------------------
def test_older_age_bands_use_the_counter_more(events: pd.DataFrame) -> None:
    first = events.sort_values("started_at_t").groupby(col.APPLICATION_ID).head(1)
    first = first[first[col.AGE_BAND].notna()]
    counter = (first[col.CHANNEL] == "counter").groupby(first[col.AGE_BAND]).mean()
    bands = ["18-29", "30-44", "45-59", "60-74", "75+"]
    assert counter[bands].is_monotonic_increasing
    assert counter["75+"] > 2.5 * counter["18-29"]
    digital = first[col.CHANNEL].isin(["online", "mobile"]).groupby(first[col.AGE_BAND]).mean()
    assert digital["18-29"] > 4 * digital["75+"]


def test_waits_are_longer_at_higher_workload(run: Run, events: pd.DataFrame) -> None:
    """Workload = counter steps at a desk (date, department, centre) per official on duty."""
    roster = pd.read_csv(run.out / "roster.csv", dtype=str, keep_default_na=False)
    roster[col.OFFICIALS_ON_DUTY] = roster[col.OFFICIALS_ON_DUTY].astype(int)
    counter = events[(events[col.CHANNEL] == "counter") & events.wait_s.notna()]
    counter = counter.assign(date=counter[col.ARRIVED_AT].str[:10])
    keys = [col.DATE, col.DEPARTMENT, col.CENTER]
    cells = counter.groupby(keys).agg(n=("wait_s", "size"), wait=("wait_s", "mean"))
    cells = cells.join(roster.set_index(keys)[col.OFFICIALS_ON_DUTY], how="inner")
    cells["workload"] = cells.n / cells[col.OFFICIALS_ON_DUTY]
    quartile = pd.qcut(cells.workload.rank(method="first"), 4, labels=False)
    by_quartile = cells.groupby(quartile).apply(lambda g: np.average(g.wait, weights=g.n))
    assert by_quartile[3] > 1.3 * by_quartile[0]
    # within each department too: busier days have longer waits
    cells = cells.reset_index()
    logs = np.log(cells[["workload", "wait"]])
    demeaned = logs - logs.groupby(cells[col.DEPARTMENT]).transform("mean")
    assert demeaned.corr().iloc[0, 1] > 0.15


def _baskets(events: pd.DataFrame) -> pd.Series:
    known = events[events[col.CITIZEN_ID].notna()]
    return known.groupby(col.CITIZEN_ID)[col.SERVICE_ITEM].agg(frozenset)


def test_small_group_bundle_is_strong_only_in_its_segment(run: Run, events: pd.DataFrame) -> None:
    (bundle,) = [b for b in run.truth["bundles"] if b["small_group"]]
    ((column, value),) = bundle["segment"].items()
    items = frozenset(bundle["items"])
    baskets = _baskets(events)
    segment = events.groupby(col.CITIZEN_ID)[column].first().reindex(baskets.index) == value
    has = baskets.map(items.issubset)
    inside, outside, overall = has[segment].mean(), has[~segment].mean(), has.mean()
    assert inside > 0.1 and inside > 20 * max(outside, 1e-4)
    assert overall < 0.02
    assert overall >= 0.9 * bundle["planted_support"]
    # members applied for the items within window_days of each other (some also applied for
    # one of the items on their own, outside the window)
    mine = events[events[col.CITIZEN_ID].isin(baskets[has].index)]
    mine = mine[mine[col.SERVICE_ITEM].isin(items)]
    applied = mine.groupby([col.CITIZEN_ID, col.SERVICE_ITEM, col.APPLICATION_ID]).started_at_t
    first = applied.min().groupby(level=[0, 1]).min()
    span = first.groupby(level=0).agg(lambda s: s.max() - s.min())
    assert (span < pd.Timedelta(days=bundle["window_days"])).mean() > 0.85


def test_everyone_bundles_and_independent_items(run: Run, events: pd.DataFrame) -> None:
    baskets = _baskets(events)
    for bundle in run.truth["bundles"]:
        support = baskets.map(frozenset(bundle["items"]).issubset).mean()
        assert support >= 0.9 * bundle["planted_support"]
        assert len(bundle["departments"]) >= 2
    a, b = run.truth["independent_popular"][:2]
    has_a, has_b = baskets.map(lambda s: a in s), baskets.map(lambda s: b in s)
    lift = (has_a & has_b).mean() / (has_a.mean() * has_b.mean())
    assert 0.6 < lift < 1.6


def test_place_bundles_are_co_located(run: Run, events: pd.DataFrame) -> None:
    first = events.sort_values("started_at_t").groupby(col.APPLICATION_ID).head(1)
    reports = first[first[col.LOCATION].notna()]

    def places_with(items: list[str], window_days: int) -> int:
        """Locations where each of the items was reported within window_days of the others."""
        mine = reports[reports[col.SERVICE_ITEM].isin(items)]
        span = pd.Timedelta(days=window_days)
        count = 0
        for _, at in mine.groupby(col.LOCATION):
            if at[col.SERVICE_ITEM].nunique() < len(items):
                continue
            firsts = at.groupby(col.SERVICE_ITEM).started_at_t.min()
            count += int(firsts.max() - firsts.min() <= span)
        return count

    for bundle in run.truth["place_bundles"]:
        assert places_with(bundle["items"], bundle["window_days"]) >= 0.9 * bundle["n_places"]
        mine = reports[reports[col.SERVICE_ITEM].isin(bundle["items"])]
        reporters = mine.groupby(col.LOCATION)[col.CITIZEN_ID]
        assert (reporters.count() == reporters.nunique()).all()  # different people report
    # an unrelated pair of hotline problems rarely meets at one place
    chance = places_with(["URB_STREETLIGHT", "URB_PARKING"], 3)
    assert chance < 0.2 * run.truth["place_bundles"][0]["n_places"] + 1


def test_lagging_steps_are_slower_than_their_peers(run: Run, events: pd.DataFrame) -> None:
    ev = events.sort_values([col.APPLICATION_ID, "started_at_t"]).copy()
    previous_end = ev.groupby(col.APPLICATION_ID).ended_at_t.shift()
    ev["handoff_s"] = (ev.started_at_t - previous_end).dt.total_seconds()
    measure = {"processing": "proc_s", "waiting": "wait_s", "handoff": "handoff_s"}
    for lag in run.truth["lagging_steps"]:
        m = measure[lag["kind"]]
        same_step = ev[(ev[col.STEP] == lag["step"]) & (ev[col.DEPARTMENT] == lag["department"])]
        same_step = same_step[same_step[m].notna()]
        if lag["kind"] == "waiting":
            same_step = same_step[same_step[col.CHANNEL] == "counter"]
        mine = same_step[same_step[col.SERVICE_ITEM] == lag["service_item"]][m]
        peers = same_step[same_step[col.SERVICE_ITEM] != lag["service_item"]][m]
        assert len(mine) >= 30 and len(peers) >= 30, lag
        assert mine.mean() > 2.0 * peers.mean(), (lag, mine.mean(), peers.mean())


def test_small_n_items_have_few_applications(run: Run, events: pd.DataFrame) -> None:
    apps = events.groupby(col.SERVICE_ITEM)[col.APPLICATION_ID].nunique()
    assert run.truth["small_n_items"]
    for item in run.truth["small_n_items"]:
        assert 1 <= apps[item] < 15
    others = apps.drop(run.truth["small_n_items"])
    assert others.min() >= 30


def test_queue_spike_and_peak_hours(run: Run, events: pd.DataFrame) -> None:
    spike = run.truth["queue_spike"]
    arrivals = events[(events[col.CHANNEL] == "counter") & events.arrived_at_t.notna()]
    arrivals = arrivals.assign(
        date=arrivals[col.ARRIVED_AT].str[:10], hour=arrivals.arrived_at_t.dt.hour
    )
    at = arrivals[arrivals[col.CENTER] == spike["center"]]
    in_hours = at[at.hour.isin(spike["hours"])]
    weekday = pd.Timestamp(spike["date"]).dayofweek
    same_weekday = in_hours[pd.to_datetime(in_hours.date).dt.dayofweek == weekday]
    per_day = same_weekday.groupby("date").size()
    assert per_day[spike["date"]] > 2.5 * per_day.drop(spike["date"]).mean()
    for center, hours in run.truth["peak_hours"].items():
        normal = arrivals[(arrivals[col.CENTER] == center) & (arrivals.date != spike["date"])]
        top = normal.groupby("hour").size().nlargest(2).index
        assert sorted(top) == sorted(hours), center


def _first_day_per_application(root: Path, item: str) -> pd.Series:
    ev = pq.read_table(root / "events").to_pandas()
    ev = ev[(ev[col.SERVICE_ITEM] == item) & ev[col.STARTED_AT].notna()]
    return ev.groupby(col.APPLICATION_ID)[col.STARTED_AT].min().astype(str).str[:10]


def test_a_new_item_goes_live_on_its_day_with_its_usual_volume(tmp_path: Path) -> None:
    from visitonce.generate import MonitorVariant

    kw = dict(n_events=20_000, seed=3, days=28, fmt="parquet", dirty=False)
    base = generate(tmp_path / "base", **kw)
    truth = generate(
        tmp_path / "live", **kw, variant=MonitorVariant(new_item="CA_MARRIAGE", new_item_day=14)
    )
    assert base["new_item"] is None
    live = truth["new_item"]
    assert live == {
        "service_item": "CA_MARRIAGE",
        "department": "civil_affairs",
        "live_from": (
            datetime.fromisoformat(truth["period_start"]).date() + timedelta(days=14)
        ).isoformat(),
    }
    before = _first_day_per_application(tmp_path / "base", "CA_MARRIAGE")
    after = _first_day_per_application(tmp_path / "live", "CA_MARRIAGE")
    assert (before < live["live_from"]).sum() > 10  # normally it has demand every week
    assert (after < live["live_from"]).sum() == 0  # not before it is live
    assert abs(len(after) - len(before)) <= 0.1 * len(before)  # the same demand, moved
    first_week = after < (date.fromisoformat(live["live_from"]) + timedelta(days=7)).isoformat()
    assert first_week.mean() > 0.5  # a launch surge: most of it in the first of two weeks
    with pytest.raises(ValueError, match="not in the generator's catalog"):
        generate(tmp_path / "bad", **kw, variant=MonitorVariant(new_item="NO_SUCH_ITEM"))


def test_quality_via_visits_acts_on_return_trips_only(tmp_path: Path) -> None:
    # Same seed, quality acting on durations ("time") or on return trips ("visits"): in
    # "visits", a department's share of applications with a supplement trip moves with its
    # planted quality (x quality^2).
    def supplement_share(via: str) -> tuple[pd.Series, dict]:
        out = tmp_path / via
        truth = generate(out, n_events=40_000, seed=5, dirty=False, fmt="parquet", quality_via=via)
        ev = pd.concat(pq.read_table(p).to_pandas() for p in sorted((out / "events").glob("*")))
        apps = ev.groupby(col.APPLICATION_ID).agg(
            department=(col.DEPARTMENT, "first"),
            supplement=(col.STEP, lambda s: (s == "supplement").any()),
        )
        return apps.groupby("department")["supplement"].mean(), truth

    time_share, truth = supplement_share("time")
    visits_share, truth_v = supplement_share("visits")
    assert truth_v["quality_via"] == "visits" and truth["quality_via"] == "time"
    q = pd.Series(truth["department_quality"])
    has = time_share[time_share > 0.01].index  # departments whose items can need a supplement
    ratio = (visits_share[has] / time_share[has]).sort_index()
    assert len(has) >= 8
    assert ratio.corr(q[ratio.index], method="spearman") >= 0.8
    # civil_affairs (quality 1.4) about doubles its supplements; tax (0.75) about halves them.
    assert ratio["civil_affairs"] > 1.5 and ratio["tax"] < 0.8
