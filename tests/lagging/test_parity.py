"""Parity with pm4py on every event log in ../shared/data, on a tie-heavy log and on BPIC 2015.

Each log goes through ingest (read, mapping, parsing, duplicates) and the step facts
(``to_step_facts`` -> ``at_as_of`` -> ``to_step_transitions``), as the pipeline takes it, without the rest of
the pipeline. pm4py 2.7's ``discover_dfg`` / ``discover_performance_dfg`` on the same file is
the oracle: the same transitions, the same counts, medians and means within 1e-6 relative. The
logs stamp many events of a case at one instant (BPIC 2015: 30,433 of 52,217), so this holds
only if ties keep the log's order and a repeated activity at one instant stays an event.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce import ingest, io
from visitonce.config import CalendarConfig
from visitonce.facts import at_as_of, to_step_facts
from visitonce.lagging.transitions import summarize_transitions, to_step_transitions
from visitonce.mapping import SourceMapping, load_mapping, parse_mapping

pd = pytest.importorskip("pandas")
pm4py = pytest.importorskip("pm4py")

LOGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "eventlogs"
AS_OF = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
REL = 1e-6
# Completion-only logs: every row is one event, a step starts when the previous one ended.
COMPLETION_ONLY = [
    ("receipt.csv", "eventlog-csv"),
    ("08_receipt.xes.gz", "xes"),
    ("15_bpic2020_permit_log_1t_per_variant.xes.gz", "xes"),
    ("helpdesk.xes.gz", "xes"),
    ("roadtraffic100traces.xes", "xes"),
    ("running-example.xes", "xes"),
]
# BPI Challenge 2015, municipality 1, as a CSV.gz made from bupaverse/eventdataR's
# data/BPIC15_1.rda (docs/real-data.md says how); not in the repository.
BPIC15 = os.environ.get("VISITONCE_BPIC15", "")
BPIC15_MAPPING = {
    "name": "bpic15",
    "format": "csv",
    "time_zone": "UTC",
    "columns": {
        "application_id": "case",
        "step": "activity",
        "ended_at": "timestamp",
        "official": "resource",
    },
    "defaults": {"service_item": "process", "department": "unknown", "channel": "other"},
    "derive": {"started_at": "previous_end"},
}


def _clean(spark, path: Path | str, mapping: SourceMapping):
    """Clean events of a file through ingest; also the status counts."""
    raw = io.read_raw(spark, str(path), mapping=mapping)
    parsed = ingest.with_parsed(
        ingest.to_canonical(raw.df, mapping=mapping),
        mapping=mapping,
        time_zone="UTC",
        latest_allowed=AS_OF,
    )
    tagged = ingest.flag_duplicates(parsed).cache()
    status = {r[0]: r[1] for r in tagged.groupBy(ingest.STATUS).count().collect()}
    return ingest.to_clean(tagged), status


def _pm4py_frame(path: Path | str, renames: dict[str, str] | None = None):
    if str(path).endswith((".csv", ".csv.gz")):
        raw = pd.read_csv(path, dtype=str).rename(columns=renames or {})
        return pm4py.format_dataframe(
            raw,
            case_id="case:concept:name",
            activity_key="concept:name",
            timestamp_key="time:timestamp",
        )
    return pm4py.read_xes(str(path))


def _oracle(log) -> tuple[dict, dict]:
    perf, _, _ = pm4py.discover_performance_dfg(log)
    freq, _, _ = pm4py.discover_dfg(log)
    return perf, freq


def _assert_same(ours: dict, perf: dict, freq: dict) -> None:
    """Same transitions; per transition the same count, median and mean (1e-6 relative)."""
    assert set(ours) == set(perf), (
        f"only ours: {sorted(set(ours) - set(perf))[:5]}, only pm4py: "
        f"{sorted(set(perf) - set(ours))[:5]}"
    )
    for pair, (n, median, mean) in ours.items():
        assert n == freq[pair], pair
        assert median == pytest.approx(float(perf[pair]["median"]), rel=REL, abs=1e-9), pair
        assert mean == pytest.approx(float(perf[pair]["mean"]), rel=REL, abs=1e-9), pair


def _step_transitions(clean) -> dict:
    """(from_step, to_step) -> (n, median_s, mean_s) from the step facts of one process."""
    assert clean.select(C.SERVICE_ITEM).distinct().count() == 1
    cal = CalendarConfig()
    facts = to_step_facts(clean, calendar=cal, time_zone="UTC")
    steps = at_as_of(facts, as_of=AS_OF, calendar=cal, time_zone="UTC")
    rows = to_step_transitions(steps).where(F.col("from_step").isNotNull()).collect()
    return {(r["from_step"], r["to_step"]): (r["n"], r["median_s"], r["mean_s"]) for r in rows}


@pytest.mark.skipif(not LOGS.is_dir(), reason=f"shared event logs absent ({LOGS})")
@pytest.mark.parametrize(("name", "mapping"), COMPLETION_ONLY)
def test_step_transitions_match_pm4py(spark, name: str, mapping: str) -> None:
    clean, status = _clean(spark, LOGS / name, load_mapping(mapping))
    log = _pm4py_frame(LOGS / name)
    assert status == {ingest.CLEAN: len(log)}  # no event lost as a duplicate or quarantined
    _assert_same(_step_transitions(clean), *_oracle(log))


@pytest.mark.slow  # 164,575 rows, and pm4py reads the whole 262,200-event XES
@pytest.mark.skipif(not LOGS.is_dir(), reason=f"shared event logs absent ({LOGS})")
def test_bpic2012_completions_match_pm4py(spark) -> None:
    """BPIC 2012 records start and complete: ingest pairs them into one step, whose facts run
    from start to end, so pm4py's graph of the complete events is compared with the
    transitions between the steps' ends, in (end, log order)."""
    clean, status = _clean(spark, LOGS / "bpic2012.xes.gz", load_mapping("xes"))
    log = _pm4py_frame(LOGS / "bpic2012.xes.gz")
    completes = log[log["lifecycle:transition"].str.lower() == "complete"]
    # every complete is one clean row (starts and schedules are folded into it)
    assert status[ingest.CLEAN] == len(completes) + 3  # 3 starts never completed: open steps
    got = summarize_transitions(
        clean.where(F.col(C.ENDED_AT).isNotNull()),
        case_col=C.APPLICATION_ID,
        activity_col=C.STEP,
        timestamp_col=C.ENDED_AT,
        order_col=C.SOURCE_ROW,
    ).collect()
    ours = {(r["source"], r["target"]): (r["count"], r["median"], r["mean"]) for r in got}
    _assert_same(ours, *_oracle(completes))


def _tie_heavy_log(path: Path, *, n_cases: int = 60, seed: int = 24) -> pd.DataFrame:
    """A completion-only CSV stamped at midnight: most events of a case share their instant
    with another, activities repeat at one instant, and the cases' rows are interleaved in
    the file, so only the file's order says which event of a case came first."""
    rng = random.Random(seed)
    cases = []
    for c in range(n_cases):
        day = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
        events = []
        for _ in range(rng.randint(3, 14)):
            if rng.random() < 0.3:
                day += dt.timedelta(days=rng.randint(1, 3))
            events.append((f"C{c:03d}", rng.choice("abcde"), day.isoformat()))
        cases.append(events)
    rows = []
    while any(cases):  # round robin over the cases, each in its own order
        for events in cases:
            if events:
                rows.append(events.pop(0))
    frame = pd.DataFrame(rows, columns=["case:concept:name", "concept:name", "time:timestamp"])
    frame.to_csv(path, index=False)
    return frame


def test_a_tie_heavy_log_matches_pm4py(spark, tmp_path: Path) -> None:
    path = tmp_path / "ties.csv"
    frame = _tie_heavy_log(path)
    same_instant = frame.duplicated(["case:concept:name", "time:timestamp"], keep=False)
    repeats = frame.duplicated(["case:concept:name", "concept:name", "time:timestamp"])
    assert same_instant.mean() > 0.6 and repeats.sum() > 20  # the log is what it claims
    clean, status = _clean(spark, path, load_mapping("eventlog-csv"))
    assert status == {ingest.CLEAN: len(frame)}
    _assert_same(_step_transitions(clean), *_oracle(_pm4py_frame(path)))


@pytest.mark.skipif(
    not (BPIC15 and Path(BPIC15).is_file()),
    reason="BPIC 2015 municipality 1 not here: set VISITONCE_BPIC15 to the CSV.gz that "
    "docs/real-data.md says how to make",
)
def test_bpic2015_municipality_1_matches_pm4py(spark) -> None:
    clean, status = _clean(spark, BPIC15, parse_mapping(BPIC15_MAPPING))
    log = _pm4py_frame(
        BPIC15,
        {"case": "case:concept:name", "activity": "concept:name", "timestamp": "time:timestamp"},
    )
    assert status == {ingest.CLEAN: len(log)} and len(log) == 52_217
    _assert_same(_step_transitions(clean), *_oracle(log))
