"""The column-name vocabulary: one name for one thing across code, schemas, reports and docs.

Every module refers to columns through these constants, so a rename happens in one place and
``schemas/*.yaml`` (the contracts) stay the single source of types.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# --- events (input contract v1, DESIGN.md §3) ---------------------------------------------
EVENT_ID = "event_id"
APPLICATION_ID = "application_id"
CITIZEN_ID = "citizen_id"
CITIZEN_TYPE = "citizen_type"
SERVICE_ITEM = "service_item"
DEPARTMENT = "department"
CHANNEL = "channel"
CENTER = "center"
DISTRICT = "district"
LOCATION = "location"
STEP = "step"
OFFICIAL = "official"
ARRIVED_AT = "arrived_at"
STARTED_AT = "started_at"
ENDED_AT = "ended_at"
DUE_AT = "due_at"  # per-case due instant (311 "Due Date"); beats the catalog time limit
PHYSICAL_VISIT = "physical_visit"
SATISFACTION = "satisfaction"
AGE_BAND = "age_band"

EVENT_COLUMNS: tuple[str, ...] = (
    EVENT_ID,
    APPLICATION_ID,
    CITIZEN_ID,
    CITIZEN_TYPE,
    SERVICE_ITEM,
    DEPARTMENT,
    CHANNEL,
    CENTER,
    DISTRICT,
    LOCATION,
    STEP,
    OFFICIAL,
    ARRIVED_AT,
    STARTED_AT,
    ENDED_AT,
    DUE_AT,
    PHYSICAL_VISIT,
    SATISFACTION,
    AGE_BAND,
)
REQUIRED_EVENT_COLUMNS: tuple[str, ...] = (
    APPLICATION_ID,
    SERVICE_ITEM,
    DEPARTMENT,
    CHANNEL,
    STEP,
    STARTED_AT,
)
TIMESTAMP_COLUMNS: tuple[str, ...] = (ARRIVED_AT, STARTED_AT, ENDED_AT, DUE_AT)
# Timestamps of what happened (a due date may lie after the run's end: not future_timestamp).
EVENT_TIME_COLUMNS: tuple[str, ...] = (ARRIVED_AT, STARTED_AT, ENDED_AT)
# Identifiers that are replaced by keyed pseudonyms at ingest and never leave it raw.
PSEUDONYMIZED_COLUMNS: tuple[str, ...] = (CITIZEN_ID, OFFICIAL)

# Columns ingest adds to the clean events.
EVENT_DATE = "event_date"  # local (analysis time zone) date of started_at; the partition key
SOURCE = "source"  # name of the source mapping the row came through
SOURCE_FILE = "source_file"  # the input file the row came from
# The row's position in its file (1-based): the n-th record of a CSV / JSON Lines / Parquet file
# (header excluded; a multi-line CSV record counts once), the n-th event of an XES log in
# document order (traces are contiguous, so it orders by trace, then event within the trace).
SOURCE_ROW = "source_row"
# How a case's events are ordered everywhere (step facts, transitions, hand-offs, first steps):
# by start, then end (an open step after the closed ones), and at the same instants by the log's
# own order, as pm4py does (it sorts stably by start, then end); event_id last, so the order is
# total. With derived starts (completion-only logs) the start and end follow the chain in which
# the starts were derived, (end, position), so the two orders agree.
CASE_ORDER: tuple[str, ...] = (STARTED_AT, ENDED_AT, SOURCE_FILE, SOURCE_ROW, EVENT_ID)


def case_order(columns: Iterable[str]) -> list[Any]:
    """``CASE_ORDER`` as Spark sort keys, for the columns a frame has (hand-made frames may lack
    the position); usable in a window's ``orderBy`` and in a ``struct`` for ``min_by``."""
    from pyspark.sql import functions as F

    have = set(columns)
    keys: list[Any] = []
    for c in CASE_ORDER:
        if c not in have:
            continue
        if c == ENDED_AT:
            keys.append(F.col(c).isNull())  # nulls last, as pandas sorts them
        keys.append(F.col(c))
    return keys


# --- vocabularies ---------------------------------------------------------------------------
CHANNELS: tuple[str, ...] = (
    "counter",
    "online",
    "mobile",
    "hotline",
    "self_service",
    "mail",
    "other",
)
CITIZEN_TYPES: tuple[str, ...] = ("individual", "enterprise")
SATISFACTION_MIN, SATISFACTION_MAX = 1, 5

# --- catalog and roster ---------------------------------------------------------------------
ITEM_NAME = "item_name"
COMPLEXITY = "complexity"
TIME_LIMIT_DAYS = "time_limit_days"
ONLINE_CAPABLE = "online_capable"
CATALOG_COLUMNS: tuple[str, ...] = (
    SERVICE_ITEM,
    ITEM_NAME,
    DEPARTMENT,
    COMPLEXITY,
    TIME_LIMIT_DAYS,
    ONLINE_CAPABLE,
)
DATE = "date"
OFFICIALS_ON_DUTY = "officials_on_duty"
ROSTER_COLUMNS: tuple[str, ...] = (DATE, DEPARTMENT, OFFICIALS_ON_DUTY, CENTER)

# --- quarantine -----------------------------------------------------------------------------
TABLE = "table"  # which input table a quarantined row belongs to: events, catalog, roster
REASON = "reason"  # the first (most fundamental) reason, one of QUARANTINE_REASONS
REASONS = "reasons"  # every reason that applies
DETAIL = "detail"  # human-readable detail: which column, which value
VALUES = "values"  # the row's original values (JSON; identifiers already pseudonymized)
BATCH = "batch"  # ingest batch: hash of source mapping + input files (quarantine partition)


class Reason:
    """Quarantine reason codes, in priority order (the first that applies is ``reason``)."""

    MALFORMED_ROW = "malformed_row"  # unparseable line: wrong number of fields, bad JSON
    MISSING_REQUIRED = "missing_required"  # a required field is empty
    BAD_TIMESTAMP = "bad_timestamp"  # a timestamp does not parse with any declared format
    BAD_VOCABULARY = "bad_vocabulary"  # channel / citizen_type outside the vocabulary
    BAD_SATISFACTION = "bad_satisfaction"  # not an integer 1-5
    BAD_BOOLEAN = "bad_boolean"  # physical_visit not a boolean
    END_BEFORE_START = "end_before_start"  # ended_at < started_at
    ARRIVAL_AFTER_START = "arrival_after_start"  # arrived_at > started_at
    FUTURE_TIMESTAMP = "future_timestamp"  # beyond the run's end plus the tolerance
    UNKNOWN_SERVICE_ITEM = "unknown_service_item"  # not in the catalog
    BAD_NUMBER = "bad_number"  # catalog / roster: a number that does not parse or is out of range
    DUPLICATE_KEY = "duplicate_key"  # catalog / roster: a second row for the same key
    # A placeholder a source writes for "no value" (NYC 311's 1900-01-01 closed dates), declared
    # by the mapping's ``sentinels``; checked before end_before_start, since it explains an
    # end before the start.
    SENTINEL_TIMESTAMP = "sentinel_timestamp"


# Reasons that apply to event rows, in priority order; catalog and roster rows add two more.
EVENT_REASONS: tuple[str, ...] = (
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
)
# Event reasons only a source mapping's declarations can raise (the canonical contract has no
# placeholders), kept out of EVENT_REASONS, which the synthetic generator plants one by one.
MAPPING_REASONS: tuple[str, ...] = (Reason.SENTINEL_TIMESTAMP,)
QUARANTINE_REASONS: tuple[str, ...] = (
    *EVENT_REASONS,
    Reason.BAD_NUMBER,
    Reason.DUPLICATE_KEY,
    *MAPPING_REASONS,
)

# --- duplicates -----------------------------------------------------------------------------
DUPLICATE_EXACT = "exact"  # every field identical to another row
DUPLICATE_SAME_EVENT = "same_event"  # same event_id, another version of the row

# --- applications (derived) -----------------------------------------------------------------
APPLIED_AT = "applied_at"
COMPLETED_AT = "completed_at"
IS_OPEN = "is_open"
N_STEPS = "n_steps"
N_VISITS = "n_visits"
CHANNELS_USED = "channels"
FIRST_CHANNEL = "first_channel"
DUE_DATE = "due_date"
ON_TIME_STATUS = "on_time_status"
APPLIED_DATE = "applied_date"


class OnTime:
    """Values of ``applications.on_time_status``."""

    ON_TIME = "on_time"
    LATE = "late"
    OPEN_WITHIN_LIMIT = "open_within_limit"
    OPEN_OVERDUE = "open_overdue"
    NO_LIMIT = "no_limit"  # no due_at and no promised time limit in the catalog
