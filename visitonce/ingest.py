"""Ingest: raw rows -> contract events, every row accounted for.

The path of a row: ``to_canonical`` (apply the source mapping; all values still strings) ->
``with_pseudonyms`` (raw identifiers never go further) -> ``with_parsed`` (types, derived
fields and quarantine reasons; nothing raises on a bad value) -> ``flag_duplicates`` (exact and
same-event copies among the valid rows) -> ``status`` column: ``clean``, ``quarantined`` or
``duplicate``. ``summarize_status`` counts rows per file and status for the manifest.

Catalog and roster rows go through ``validate_catalog`` / ``validate_roster`` the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce.columns import Reason
from visitonce.io import CORRUPT, FIELDS_PRESENT
from visitonce.mapping import UNITS_SECONDS, SourceMapping
from visitonce.pseudonym import pseudonym

STATUS = "status"
CLEAN, QUARANTINED, DUPLICATE = "clean", "quarantined", "duplicate"
OUT_OF_INTERVAL = "out_of_interval"  # valid, but started outside the run's data interval
DUPLICATE_KIND = "duplicate_kind"
_DUR = "_duration_"
_IN_CATALOG = "_in_catalog"
_TRUE = ("true", "t", "yes", "y", "1", "是")
_FALSE = ("false", "f", "no", "n", "0", "否")
# ISO 8601 date-time: date, optional time, optional offset. Guards try_cast, which would
# otherwise accept Spark's special strings ('yesterday', 'now', 'epoch') as timestamps.
_ISO = (
    r"^\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?$"
)
_HAS_OFFSET = r"[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"


# --- mapping ------------------------------------------------------------------------------------


def _nullify(col: Column, null_values: Sequence[str]) -> Column:
    trimmed = F.trim(col)
    return F.when(trimmed.isin(*null_values) | (trimmed == ""), F.lit(None)).otherwise(trimmed)


def _map_values(col: Column, mapping: dict[str, str], default: str | None) -> Column:
    lookup = F.create_map(*[F.lit(x) for kv in mapping.items() for x in kv])
    mapped = F.try_element_at(lookup, F.lower(col))
    return F.when(col.isNull(), F.lit(None)).otherwise(
        F.coalesce(mapped, F.lit(default) if default is not None else col)
    )


def to_canonical(raw: DataFrame, *, mapping: SourceMapping) -> DataFrame:
    """Apply a source mapping: contract columns (strings), ``source_file``, ``source_row`` and
    ``_corrupt_record``.

    Needs the source's columns as strings plus ``source_file`` and ``_corrupt_record`` (as
    ``io.read_raw`` gives them). Values are trimmed; the mapping's null markers become null;
    value maps translate codes; channel and citizen_type are normalized to lower snake case.
    Duration columns are carried along for ``with_parsed``. Unmapped source columns are dropped
    here, so nothing the contract does not know (names, phone numbers) leaves ingest.
    """
    cols: list[Column] = []
    for target in C.EVENT_COLUMNS:
        source = mapping.source_column(target)
        if target in mapping.constants:
            value = F.lit(mapping.constants[target])
        else:
            present = [s for s in (source, *mapping.fallbacks.get(target, ())) if s in raw.columns]
            value = F.coalesce(
                *[_nullify(F.col(f"`{s}`"), mapping.null_values) for s in present],
                F.lit(None).cast("string"),
            )
        if target in mapping.defaults:
            value = F.coalesce(value, F.lit(mapping.defaults[target]))
        if target in mapping.keep_if:
            col, allowed = mapping.keep_if[target]
            ok = F.lower(F.trim(F.col(f"`{col}`"))).isin(*allowed) if col in raw.columns else None
            value = F.when(ok, value) if ok is not None else F.lit(None).cast("string")
        if target == C.APPLICATION_ID and mapping.row_key:
            value = F.coalesce(value, _row_key(raw, mapping.row_key))
        if target in mapping.values:
            vm = mapping.values[target]
            value = _map_values(value, dict(vm.mapping), vm.default)
        if target in (C.CHANNEL, C.CITIZEN_TYPE):
            value = F.regexp_replace(F.lower(value), r"[\s-]+", "_")
        cols.append(value.alias(target))
    for i, d in enumerate(mapping.durations):
        source = F.col(f"`{d.column}`") if d.column in raw.columns else F.lit(None)
        cols.append(_nullify(source.cast("string"), mapping.null_values).alias(f"{_DUR}{i}"))
    extra = [F.col(FIELDS_PRESENT)] if FIELDS_PRESENT in raw.columns else []
    return raw.select(*cols, F.col(C.SOURCE_FILE), _source_row(raw), F.col(CORRUPT), *extra)


def _source_row(df: DataFrame) -> Column:
    """The row's position in its file (``io.read_raw`` gives it; null for hand-made frames)."""
    present = C.SOURCE_ROW in df.columns
    return (F.col(C.SOURCE_ROW) if present else F.lit(None)).cast("long").alias(C.SOURCE_ROW)


def _row_key(raw: DataFrame, names: Sequence[str]) -> Column:
    """A row's ID where the export has none: the hash of its values plus its occurrence number
    among identical rows of its file (a second file repeating them gives the same IDs)."""
    values = [
        F.coalesce(F.trim(F.col(f"`{n}`")), F.lit("\\N")) if n in raw.columns else F.lit("")
        for n in names
    ]
    digest = F.substring(F.sha2(F.concat_ws("\u001f", *values), 256), 1, 24)
    order = F.col(C.SOURCE_ROW) if C.SOURCE_ROW in raw.columns else digest
    nth = F.row_number().over(Window.partitionBy(C.SOURCE_FILE, digest).orderBy(order))
    return F.concat(F.lit("r_"), digest, F.lit("_"), nth.cast("string"))


def with_pseudonyms(df: DataFrame, *, key: bytes) -> DataFrame:
    """Replace ``citizen_id`` and ``official`` by keyed pseudonyms (HMAC-SHA256)."""
    return df.withColumn(
        C.CITIZEN_ID, pseudonym(F.col(C.CITIZEN_ID), key=key, domain="citizen")
    ).withColumn(C.OFFICIAL, pseudonym(F.col(C.OFFICIAL), key=key, domain="official"))


def with_values_json(df: DataFrame) -> DataFrame:
    """Add ``values``: the row's mapped values as JSON (identifiers already pseudonymized).

    A malformed line keeps none of its values: its fields may be shifted, so a raw identifier
    can sit under any column name. It keeps the sha256 of the raw line and its field count,
    enough for an auditor to find it in the source file, and nothing that could identify anyone.
    """
    fields = F.to_json(F.struct(*[F.col(c) for c in C.EVENT_COLUMNS]))
    malformed = F.to_json(
        F.struct(
            F.sha2(F.col(CORRUPT), 256).alias("malformed_line_sha256"),
            F.size(F.split(F.col(CORRUPT), ",")).alias("n_fields"),
        )
    )
    return df.withColumn(C.VALUES, F.when(F.col(CORRUPT).isNotNull(), malformed).otherwise(fields))


# --- parsing --------------------------------------------------------------------------------


def parse_bool(col: Column) -> Column:
    """true/false, t/f, yes/no, y/n, 1/0, 是/否 (case-insensitive); anything else null."""
    low = F.lower(F.trim(col))
    return F.when(low.isin(*_TRUE), F.lit(True)).when(low.isin(*_FALSE), F.lit(False))


def parse_int(col: Column) -> Column:
    """An integer written as digits (optionally ``.0``); anything else null."""
    s = F.trim(col)
    return F.when(
        s.rlike(r"^[+-]?\d{1,9}(\.0*)?$"), F.regexp_extract(s, r"^([+-]?\d+)", 1).try_cast("int")
    )


def parse_timestamp(col: Column, *, formats: Sequence[str], time_zone: str) -> Column:
    """A UTC instant from a string; null when it does not parse.

    With ``formats`` (Spark datetime patterns) each is tried in order; without, ISO 8601. Values
    that carry an offset are exact instants; values without one are read in ``time_zone``.
    """
    s = F.trim(col)
    if formats:
        parsed = F.coalesce(*[F.try_to_timestamp(s, F.lit(f)) for f in formats])
    else:
        parsed = F.when(s.rlike(_ISO), s.try_cast("timestamp"))
    return F.when(s.rlike(_HAS_OFFSET), parsed).otherwise(F.to_utc_timestamp(parsed, time_zone))


def _sentinel(mapping: SourceMapping, tz: str) -> Column:
    """True where a timestamp's local date is one the mapping declares a placeholder."""
    hit = F.lit(False)
    for c, dates in mapping.sentinels.items():
        if c == C.DUE_AT:
            continue  # an optional due date's placeholder is nulled (with_parsed), not quarantined
        local = F.to_date(F.from_utc_timestamp(F.col(c), tz))
        hit = hit | F.coalesce(local.isin(*[F.lit(d).cast("date") for d in dates]), F.lit(False))
    return hit


def _reason(cond: Column, code: str) -> Column:
    return F.when(cond, F.lit(code))


def derived_event_id() -> Column:
    """An event's ID where the source has none: ``d_`` + a digest of what the event is + ``_`` +
    its occurrence number among the rows of its file that are the same event at the same time.

    The digest covers ``application_id, step, department`` and the event's own recorded time
    (its given ``started_at``, else its ``ended_at``: a completion-only log's start is derived
    from its neighbours, not recorded). The occurrence number counts, in file order
    (``source_row``), the rows of the file with that digest and the same ``ended_at``. So an
    activity repeated at one instant gives distinct events; the same rows delivered again in
    another file get the same IDs (duplicates), and an open step's export and its later closed
    export share an ID (the closed version is kept), as before. Needs typed timestamps, not yet
    derived.
    """
    own_time = F.coalesce(F.col(C.STARTED_AT), F.col(C.ENDED_AT))
    digest = F.substring(
        F.sha2(
            F.concat_ws(
                "|",
                F.col(C.APPLICATION_ID),
                F.col(C.STEP),
                F.col(C.DEPARTMENT),
                F.unix_micros(own_time).cast("string"),
            ),
            256,
        ),
        1,
        32,
    )
    same = Window.partitionBy(C.SOURCE_FILE, digest, C.ENDED_AT).orderBy(C.SOURCE_ROW)
    return F.concat(F.lit("d_"), digest, F.lit("_"), F.row_number().over(same).cast("string"))


def with_parsed(
    df: DataFrame,
    *,
    mapping: SourceMapping,
    time_zone: str,
    latest_allowed: dt.datetime,
    catalog_items: DataFrame | None = None,
) -> DataFrame:
    """Type the canonical string columns and say why a row cannot be used.

    Needs ``to_canonical``'s output. Adds typed ``arrived_at, started_at, ended_at,
    physical_visit, satisfaction``, a derived ``event_id`` when absent, ``event_date``,
    ``source``, ``reason`` (first code, null when valid), ``reasons`` and ``detail``.
    ``latest_allowed`` is a UTC instant (the run's end plus the tolerance); timestamps after it
    are ``future_timestamp``. With ``catalog_items`` (one column ``service_item``), items not in
    it are ``unknown_service_item``.
    """
    tz = mapping.time_zone or time_zone
    raw = {c: F.col(c) for c in C.TIMESTAMP_COLUMNS}
    ts = {
        c: parse_timestamp(raw[c], formats=mapping.timestamps.get(c, ()), time_zone=tz)
        for c in C.TIMESTAMP_COLUMNS
    }
    out = df
    for c in C.TIMESTAMP_COLUMNS:
        out = out.withColumn(f"_raw_{c}", raw[c]).withColumn(c, ts[c])
    if mapping.sentinels.get(C.DUE_AT):
        # A placeholder due date (1900-01-01) says "no due date": the case falls back to the
        # catalog's time limit, and the row is kept.
        due_local = F.to_date(F.from_utc_timestamp(F.col(C.DUE_AT), tz))
        placeholder = due_local.isin(*[F.lit(d).cast("date") for d in mapping.sentinels[C.DUE_AT]])
        keep = ~placeholder | placeholder.isNull()
        out = out.withColumn(f"_raw_{C.DUE_AT}", F.when(keep, F.col(f"_raw_{C.DUE_AT}")))
        out = out.withColumn(C.DUE_AT, F.when(keep, F.col(C.DUE_AT)))

    # Durations: target = anchor ± value × unit, where the source gives a length, not a time.
    dur_bad: list[Column] = []
    for i, d in enumerate(mapping.durations):
        seconds = F.col(f"{_DUR}{i}").try_cast("double") * F.lit(UNITS_SECONDS[d.unit] * d.sign)
        derived = F.timestamp_seconds(F.unix_micros(F.col(d.anchor)) / 1e6 + seconds)
        out = out.withColumn(d.target, F.coalesce(F.col(d.target), derived))
        dur_bad.append(F.col(f"{_DUR}{i}").isNotNull() & seconds.isNull())

    out = out.withColumn(C.EVENT_ID, F.coalesce(F.col(C.EVENT_ID), derived_event_id()))
    if mapping.started_at_from_previous:
        # Completion-only logs (most XES): a step starts when the case's previous event ended,
        # the previous in time and, at the same instant, in the log's order (pm4py's). Copies
        # of an event (another file repeating it) are chained apart, layer by layer, so a copy
        # never becomes its own original's predecessor and gets the original's start.
        copy = F.row_number().over(
            Window.partitionBy(C.APPLICATION_ID, C.EVENT_ID).orderBy(C.SOURCE_FILE, C.SOURCE_ROW)
        )
        out = out.withColumn("_copy", copy)
        w = Window.partitionBy(C.APPLICATION_ID, "_copy").orderBy(
            C.ENDED_AT, C.SOURCE_FILE, C.SOURCE_ROW
        )
        out = (
            out.withColumn(
                C.STARTED_AT,
                F.coalesce(F.col(C.STARTED_AT), F.lag(C.ENDED_AT).over(w), F.col(C.ENDED_AT)),
            )
            .withColumn(
                f"_raw_{C.STARTED_AT}",
                F.coalesce(F.col(f"_raw_{C.STARTED_AT}"), F.col(C.STARTED_AT).cast("string")),
            )
            .drop("_copy")
        )

    pv_raw = F.col(C.PHYSICAL_VISIT)
    pv = parse_bool(pv_raw)
    if mapping.physical_visit_channels:
        pv = F.coalesce(pv, F.col(C.CHANNEL).isin(*mapping.physical_visit_channels))
    out = out.withColumn("_raw_pv", pv_raw).withColumn(C.PHYSICAL_VISIT, pv)
    out = out.withColumn("_raw_sat", F.col(C.SATISFACTION)).withColumn(
        C.SATISFACTION, parse_int(F.col(C.SATISFACTION))
    )

    if catalog_items is not None:
        items = catalog_items.select(F.col(C.SERVICE_ITEM).alias("_cat_item")).distinct()
        out = out.join(F.broadcast(items), out[C.SERVICE_ITEM] == items["_cat_item"], "left")
        out = out.withColumn(_IN_CATALOG, F.col("_cat_item").isNotNull()).drop("_cat_item")
    else:
        out = out.withColumn(_IN_CATALOG, F.lit(True))

    missing = [
        F.when(F.col(f"_raw_{c}" if c in C.TIMESTAMP_COLUMNS else c).isNull(), F.lit(c))
        for c in C.REQUIRED_EVENT_COLUMNS
    ]
    bad_ts = [
        F.when(F.col(f"_raw_{c}").isNotNull() & F.col(c).isNull(), F.lit(c))
        for c in C.TIMESTAMP_COLUMNS
    ]
    latest = F.lit(_utc(latest_allowed)).cast("timestamp")
    future = [F.when(F.col(c) > latest, F.lit(c)) for c in C.EVENT_TIME_COLUMNS]
    bad_vocab = [
        F.when(
            F.col(C.CHANNEL).isNotNull() & ~F.col(C.CHANNEL).isin(*C.CHANNELS),
            F.concat(F.lit("channel="), F.col(C.CHANNEL)),
        ),
        F.when(
            F.col(C.CITIZEN_TYPE).isNotNull() & ~F.col(C.CITIZEN_TYPE).isin(*C.CITIZEN_TYPES),
            F.concat(F.lit("citizen_type="), F.col(C.CITIZEN_TYPE)),
        ),
    ]

    def _present(parts: list[Column]) -> Column:
        return F.filter(F.array(*parts), lambda x: x.isNotNull())

    out = (
        out.withColumn("_missing", _present(missing))
        .withColumn("_bad_ts", _present(bad_ts))
        .withColumn("_future", _present(future))
        .withColumn("_bad_vocab", _present(bad_vocab))
    )
    sat_bad = F.col("_raw_sat").isNotNull() & (
        F.col(C.SATISFACTION).isNull()
        | ~F.col(C.SATISFACTION).between(C.SATISFACTION_MIN, C.SATISFACTION_MAX)
    )
    pv_bad = F.col("_raw_pv").isNotNull() & parse_bool(F.col("_raw_pv")).isNull()
    end_before = F.col(C.ENDED_AT) < F.col(C.STARTED_AT)
    arrival_after = F.col(C.ARRIVED_AT) > F.col(C.STARTED_AT)
    any_dur_bad = F.lit(False)
    for cond in dur_bad:
        any_dur_bad = any_dur_bad | cond
    checks: list[tuple[Column, str, Column]] = [
        (F.col(CORRUPT).isNotNull(), Reason.MALFORMED_ROW, F.lit("line does not parse")),
        (
            F.size("_missing") > 0,
            Reason.MISSING_REQUIRED,
            F.concat(F.lit("empty: "), F.array_join("_missing", ",")),
        ),
        (
            (F.size("_bad_ts") > 0) | any_dur_bad,
            Reason.BAD_TIMESTAMP,
            F.concat(F.lit("unparseable: "), F.array_join("_bad_ts", ",")),
        ),
        (F.size("_bad_vocab") > 0, Reason.BAD_VOCABULARY, F.array_join("_bad_vocab", ",")),
        (sat_bad, Reason.BAD_SATISFACTION, F.concat(F.lit("satisfaction="), F.col("_raw_sat"))),
        (pv_bad, Reason.BAD_BOOLEAN, F.concat(F.lit("physical_visit="), F.col("_raw_pv"))),
        (_sentinel(mapping, tz), Reason.SENTINEL_TIMESTAMP, F.lit("placeholder date")),
        (
            F.coalesce(end_before, F.lit(False)),
            Reason.END_BEFORE_START,
            F.lit("ended_at < started_at"),
        ),
        (
            F.coalesce(arrival_after, F.lit(False)),
            Reason.ARRIVAL_AFTER_START,
            F.lit("arrived_at > started_at"),
        ),
        (
            F.size("_future") > 0,
            Reason.FUTURE_TIMESTAMP,
            F.concat(F.lit("after run end: "), F.array_join("_future", ",")),
        ),
        (
            ~F.col(_IN_CATALOG),
            Reason.UNKNOWN_SERVICE_ITEM,
            F.concat(F.lit("service_item="), F.coalesce(F.col(C.SERVICE_ITEM), F.lit(""))),
        ),
    ]
    reasons = _present([_reason(cond, code) for cond, code, _ in checks])
    details = _present([F.when(cond, d) for cond, _, d in checks])
    out = (
        out.withColumn(C.REASONS, reasons)
        .withColumn(C.REASON, F.try_element_at(C.REASONS, F.lit(1)))
        .withColumn(C.DETAIL, F.try_element_at(details, F.lit(1)))
    )

    out = out.withColumn(C.EVENT_DATE, F.to_date(F.from_utc_timestamp(C.STARTED_AT, time_zone)))
    out = out.withColumn(C.SOURCE, F.lit(mapping.name))
    scratch = [c for c in out.columns if c.startswith(("_raw_", _DUR))] + [
        "_missing",
        "_bad_ts",
        "_future",
        "_bad_vocab",
        _IN_CATALOG,
    ]
    return out.drop(*scratch)


# --- duplicates and status -----------------------------------------------------------------------


def flag_duplicates(
    df: DataFrame, *, interval: tuple[dt.datetime | None, dt.datetime | None] | None = None
) -> DataFrame:
    """Add ``status`` (clean / quarantined / duplicate / out_of_interval) and ``duplicate_kind``.

    Needs ``with_parsed``'s output. Among valid rows with the same ``(source, event_id)`` one is
    kept: the most complete version (a closed step over its earlier open export, then the later
    end, then more filled fields, then a fixed order of values, then the first file and
    position, so the choice is deterministic). The others are ``exact`` duplicates when every
    contract value equals the kept row's, otherwise ``same_event`` (another version of the same
    step). Quarantined rows are never deduplicated: each one is kept with its reason. With an
    ``interval`` [start, end) (aware datetimes, either may be None), valid rows whose
    ``started_at`` lies outside it are ``out_of_interval``: they belong to another scheduled run.
    """
    row = F.struct(*[F.col(c) for c in C.EVENT_COLUMNS])
    filled = sum((F.col(c).isNotNull().cast("int") for c in C.EVENT_COLUMNS), F.lit(0))
    inside = F.lit(True)
    start, end = interval or (None, None)
    if start is not None:
        inside = inside & (F.col(C.STARTED_AT) >= F.lit(_utc(start)).cast("timestamp"))
    if end is not None:
        inside = inside & (F.col(C.STARTED_AT) < F.lit(_utc(end)).cast("timestamp"))
    valid = F.col(C.REASON).isNull()
    eligible = valid & inside
    # Between identical copies, the first delivered (file, then position) is the one kept.
    w = Window.partitionBy(eligible, C.SOURCE, C.EVENT_ID).orderBy(
        F.col(C.ENDED_AT).isNull(),
        F.col(C.ENDED_AT).desc(),
        filled.desc(),
        row,
        C.SOURCE_FILE,
        C.SOURCE_ROW,
    )
    # Structs compare field by field in the JVM: exact and ordered without serializing rows.
    out = df.withColumn("_row", row).withColumn("_rn", F.row_number().over(w))
    out = out.withColumn("_kept", F.first("_row").over(w))
    status = (
        F.when(~valid, F.lit(QUARANTINED))
        .when(~inside, F.lit(OUT_OF_INTERVAL))
        .when(F.col("_rn") == 1, F.lit(CLEAN))
        .otherwise(F.lit(DUPLICATE))
    )
    kind = F.when(
        status == DUPLICATE,
        F.when(F.col("_row").eqNullSafe(F.col("_kept")), F.lit(C.DUPLICATE_EXACT)).otherwise(
            F.lit(C.DUPLICATE_SAME_EVENT)
        ),
    )
    return (
        out.withColumn(STATUS, status).withColumn(DUPLICATE_KIND, kind).drop("_row", "_rn", "_kept")
    )


def _utc(t: dt.datetime) -> dt.datetime:
    """A naive UTC datetime, as Spark's session (UTC) reads a timestamp literal."""
    return t.astimezone(dt.timezone.utc).replace(tzinfo=None)


def summarize_status(tagged: DataFrame) -> DataFrame:
    """Row counts per source file, status, reason and duplicate kind (a small table)."""
    return tagged.groupBy(C.SOURCE_FILE, STATUS, C.REASON, DUPLICATE_KIND).count()


# A row failing this many checks on its values at once (an empty required field is no wrong
# value, so missing_required does not count) is taken for a broken or shifted line: a record cut
# by a stray line break, a field lost or added. Its values sit under the wrong names, so a raw
# identifier may sit under any of them, and they say nothing true about the event anyway.
SHIFTED_AT_FAULTS = 2


def to_quarantine(tagged: DataFrame, *, table: str, batch: str) -> DataFrame:
    """Quarantined rows in the quarantine contract's shape.

    A row with one fault keeps its (pseudonymized) values and a detail naming the bad value. A
    row with ``SHIFTED_AT_FAULTS`` or more keeps, like a malformed line, no value: ``values``
    holds its position in its file (``source_row``), the sha256 of its values and their count,
    enough to find it in the export, and ``detail`` lists the failed checks only.
    """
    wrong = F.filter(C.REASONS, lambda r: r != F.lit(Reason.MISSING_REQUIRED))
    shifted = F.size(wrong) >= SHIFTED_AT_FAULTS
    present = C.SOURCE_ROW in tagged.columns
    row = F.col(C.SOURCE_ROW) if present else F.lit(None).cast("long")
    kept = F.to_json(
        F.struct(
            row.alias(C.SOURCE_ROW),
            F.sha2(F.col(C.VALUES), 256).alias("values_sha256"),
            F.size(F.map_keys(F.from_json(C.VALUES, "map<string,string>"))).alias("n_values"),
        )
    )
    detail = F.concat(
        F.lit("fields out of place? "),
        F.array_join(C.REASONS, ", "),
        F.lit(": values not kept; see source_row in the export"),
    )
    malformed = F.col(C.REASON) == Reason.MALFORMED_ROW
    return tagged.where(F.col(STATUS) == QUARANTINED).select(
        C.REASON,
        C.REASONS,
        F.when(shifted & ~malformed, detail).otherwise(F.col(C.DETAIL)).alias(C.DETAIL),
        C.SOURCE,
        C.SOURCE_FILE,
        F.when(shifted & ~malformed, kept).otherwise(F.col(C.VALUES)).alias(C.VALUES),
        F.lit(table).alias(C.TABLE),
        F.lit(batch).alias(C.BATCH),
    )


def to_clean(tagged: DataFrame) -> DataFrame:
    """The clean rows."""
    return tagged.where(F.col(STATUS) == CLEAN)


# --- reference tables -----------------------------------------------------------------------------


def _reference_status(
    df: DataFrame, key: Sequence[str], checks: list[tuple[Column, str, Column]], *, source: str
) -> DataFrame:
    """Shared tail of catalog/roster validation: reasons, duplicate keys, status, values JSON."""
    present = F.filter(
        F.array(*[_reason(c, code) for c, code, _ in checks]), lambda x: x.isNotNull()
    )
    details = F.filter(F.array(*[F.when(c, d) for c, _, d in checks]), lambda x: x.isNotNull())
    out = df.withColumn(C.REASONS, present).withColumn(
        C.DETAIL, F.try_element_at(details, F.lit(1))
    )
    # A second row for the same key is a conflict the data owner must resolve: keep the first in
    # a fixed order of values, quarantine the rest.
    valid = F.size(C.REASONS) == 0
    w = Window.partitionBy(valid, *key).orderBy(C.VALUES)
    out = out.withColumn("_rn", F.row_number().over(w))
    dup = valid & (F.col("_rn") > 1)
    out = out.withColumn(
        C.REASONS, F.when(dup, F.array(F.lit(Reason.DUPLICATE_KEY))).otherwise(F.col(C.REASONS))
    )
    out = out.withColumn(
        C.DETAIL,
        F.when(
            dup,
            F.concat(
                F.lit("another row for "), F.concat_ws("/", *[F.col(k).cast("string") for k in key])
            ),
        ).otherwise(F.col(C.DETAIL)),
    )
    out = out.withColumn(C.REASON, F.try_element_at(C.REASONS, F.lit(1)))
    return (
        out.withColumn(
            STATUS, F.when(F.col(C.REASON).isNull(), F.lit(CLEAN)).otherwise(F.lit(QUARANTINED))
        )
        .withColumn(C.SOURCE, F.lit(source))
        .withColumn(DUPLICATE_KIND, F.lit(None).cast("string"))
        .drop("_rn")
    )


def to_derived_catalog(events: DataFrame) -> DataFrame:
    """A catalog derived from clean events when none is given: one row per ``service_item``,
    owned by the department that handled most of its events (ties: the first by name).

    ``item_name`` is the item code; ``complexity``, ``time_limit_days`` and ``online_capable``
    are null: the logs do not say them, and nothing downstream may invent them.
    """
    counts = events.groupBy(C.SERVICE_ITEM, C.DEPARTMENT).count()
    w = Window.partitionBy(C.SERVICE_ITEM).orderBy(F.col("count").desc(), C.DEPARTMENT)
    return (
        counts.withColumn("_rn", F.row_number().over(w))
        .where(F.col("_rn") == 1)
        .select(
            C.SERVICE_ITEM,
            F.col(C.SERVICE_ITEM).alias(C.ITEM_NAME),
            C.DEPARTMENT,
            F.lit(None).cast("int").alias(C.COMPLEXITY),
            F.lit(None).cast("int").alias(C.TIME_LIMIT_DAYS),
            F.lit(None).cast("boolean").alias(C.ONLINE_CAPABLE),
        )
    )


def _strings(df: DataFrame, names: Sequence[str]) -> DataFrame:
    return df.select(
        *[
            (
                _nullify(F.col(f"`{n}`"), ("", "null", "NULL", "N/A"))
                if n in df.columns
                else F.lit(None).cast("string")
            ).alias(n)
            for n in names
        ],
        F.col(C.SOURCE_FILE),
        F.col(CORRUPT),
        *([F.col(FIELDS_PRESENT)] if FIELDS_PRESENT in df.columns else []),
    )


def validate_catalog(raw: DataFrame) -> DataFrame:
    """Catalog rows typed and tagged: ``status``, ``reason(s)``, ``detail``, ``values``.

    Needs string columns named as the catalog contract, ``source_file`` and ``_corrupt_record``.
    """
    s = _strings(raw, C.CATALOG_COLUMNS)
    s = s.withColumn(C.VALUES, F.to_json(F.struct(*[F.col(c) for c in C.CATALOG_COLUMNS])))
    cx = parse_int(F.col(C.COMPLEXITY))
    tl = parse_int(F.col(C.TIME_LIMIT_DAYS))
    oc = parse_bool(F.col(C.ONLINE_CAPABLE))
    checks = [
        (F.col(CORRUPT).isNotNull(), Reason.MALFORMED_ROW, F.lit("line does not parse")),
        (
            F.col(C.SERVICE_ITEM).isNull() | F.col(C.DEPARTMENT).isNull(),
            Reason.MISSING_REQUIRED,
            F.lit("empty: service_item or department"),
        ),
        (
            F.col(C.COMPLEXITY).isNotNull() & F.coalesce(~cx.between(1, 5), F.lit(True)),
            Reason.BAD_NUMBER,
            F.concat(F.lit("complexity="), F.col(C.COMPLEXITY)),
        ),
        (
            F.col(C.TIME_LIMIT_DAYS).isNotNull() & F.coalesce(tl < 0, F.lit(True)),
            Reason.BAD_NUMBER,
            F.concat(F.lit("time_limit_days="), F.col(C.TIME_LIMIT_DAYS)),
        ),
        (
            F.col(C.ONLINE_CAPABLE).isNotNull() & oc.isNull(),
            Reason.BAD_BOOLEAN,
            F.concat(F.lit("online_capable="), F.col(C.ONLINE_CAPABLE)),
        ),
    ]
    # Checks read the raw strings; the typed values ride along and replace them at the end.
    tagged = _reference_status(
        s.withColumn("_cx", cx).withColumn("_tl", tl).withColumn("_oc", oc),
        [C.SERVICE_ITEM],
        checks,
        source="catalog",
    )
    return (
        tagged.withColumn(C.COMPLEXITY, F.col("_cx"))
        .withColumn(C.TIME_LIMIT_DAYS, F.col("_tl"))
        .withColumn(C.ONLINE_CAPABLE, F.col("_oc"))
        .drop("_cx", "_tl", "_oc")
    )


def validate_roster(raw: DataFrame) -> DataFrame:
    """Roster rows typed and tagged like ``validate_catalog``; ``date`` is a local date."""
    s = _strings(raw, C.ROSTER_COLUMNS)
    s = s.withColumn(C.VALUES, F.to_json(F.struct(*[F.col(c) for c in C.ROSTER_COLUMNS])))
    d = F.to_date(parse_timestamp(F.col(C.DATE), formats=(), time_zone="UTC"))
    n = parse_int(F.col(C.OFFICIALS_ON_DUTY))
    checks = [
        (F.col(CORRUPT).isNotNull(), Reason.MALFORMED_ROW, F.lit("line does not parse")),
        (
            F.col(C.DATE).isNull()
            | F.col(C.DEPARTMENT).isNull()
            | F.col(C.OFFICIALS_ON_DUTY).isNull(),
            Reason.MISSING_REQUIRED,
            F.lit("empty: date, department or officials_on_duty"),
        ),
        (
            F.col(C.DATE).isNotNull() & d.isNull(),
            Reason.BAD_TIMESTAMP,
            F.concat(F.lit("date="), F.col(C.DATE)),
        ),
        (
            F.col(C.OFFICIALS_ON_DUTY).isNotNull() & F.coalesce(n < 0, F.lit(True)),
            Reason.BAD_NUMBER,
            F.concat(F.lit("officials_on_duty="), F.col(C.OFFICIALS_ON_DUTY)),
        ),
    ]
    tagged = _reference_status(
        s.withColumn("_d", d).withColumn("_n", n),
        ["_d", C.DEPARTMENT, C.CENTER],
        checks,
        source="roster",
    )
    return (
        tagged.withColumn(C.DATE, F.col("_d"))
        .withColumn(C.OFFICIALS_ON_DUTY, F.col("_n"))
        .drop("_d", "_n")
    )
