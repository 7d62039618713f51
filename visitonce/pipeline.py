"""The run: ingest, then the registered stages in order, their timings, and the manifest that
reconciles every row.

Jobs and the CLI call ``run_pipeline``. Dependencies run one way: jobs / CLI -> pipeline ->
``visitonce.stages`` (the registry) -> each stage -> transforms -> ``io``; the run's shared
context (request, timer, stage context) is ``visitonce.context``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce import ingest, io, schemas
from visitonce.context import (
    Progress,
    RunRequest,
    StageContext,
    Timer,
    check_language,
    failed_section,
    local_date,
    one_line,
    parse_time,
    versions,
)
from visitonce.mapping import SourceMapping
from visitonce.pseudonym import key_id
from visitonce.stages import analytic_stages, check_stages

MANIFEST = "manifest.json"


class ReconciliationError(RuntimeError):
    """Row counts do not add up: the run must not be trusted."""


class StagesFailed(RuntimeError):
    """Analytic stages raised; the manifest and the report of the others were still written."""

    def __init__(self, failed: dict[str, str], manifest: dict[str, Any]) -> None:
        names = ", ".join(f"{k} ({v})" for k, v in failed.items())
        super().__init__(
            f"stage(s) failed: {names}; the other stages' tables, manifest.json and the report "
            "were written (rerun the failed stage(s) with --stages once fixed)"
        )
        self.failed = failed
        self.manifest = manifest


# The stages whose failure stops the run: nothing downstream can be trusted without them.
FOUNDATION = ("applications",)


NO_EVENTS = (
    "no clean events in the warehouse (every row read was quarantined or a duplicate; see "
    "quarantine/ and the manifest's quarantine_reasons)"
)


def _counts(summary: list[Any]) -> dict[str, dict[str, Any]]:
    """Per-file counts from ``ingest.summarize_status`` rows."""
    per: dict[str, dict[str, Any]] = {}
    for r in summary:
        f = per.setdefault(
            r[C.SOURCE_FILE],
            {
                "rows_clean": 0,
                "rows_quarantined": 0,
                "rows_duplicate": 0,
                "rows_out_of_interval": 0,
                "reasons": {},
                "duplicates": {},
            },
        )
        n = int(r["count"])
        if r[ingest.STATUS] == ingest.CLEAN:
            f["rows_clean"] += n
        elif r[ingest.STATUS] == ingest.QUARANTINED:
            f["rows_quarantined"] += n
            f["reasons"][r[C.REASON]] = f["reasons"].get(r[C.REASON], 0) + n
        elif r[ingest.STATUS] == ingest.OUT_OF_INTERVAL:
            f["rows_out_of_interval"] += n
        else:
            f["rows_duplicate"] += n
            kind = r[ingest.DUPLICATE_KIND]
            f["duplicates"][kind] = f["duplicates"].get(kind, 0) + n
    return per


_COUNTS = ("rows_clean", "rows_quarantined", "rows_duplicate", "rows_out_of_interval")


def _reconcile(table: str, rows_read: dict[str, int], per: dict[str, dict[str, Any]]) -> list[dict]:
    """Per-file reconciliation rows; raise when any file's counts do not add up.

    ``rows_in`` is what a file contributed to this run: every row read, less the valid rows
    that belong to another data interval. ``rows_in == clean + quarantined + duplicate``.
    """
    rows = []
    for f in sorted(set(rows_read) | set(per)):
        c = {k: per.get(f, {}).get(k, 0) for k in _COUNTS}
        n_read = rows_read.get(f, 0)
        if n_read != sum(c.values()):
            raise ReconciliationError(
                f"{table}: {f}: {n_read} rows read but {sum(c.values())} accounted for "
                f"(clean {c['rows_clean']}, quarantined {c['rows_quarantined']}, "
                f"duplicate {c['rows_duplicate']}, other intervals "
                f"{c['rows_out_of_interval']}); outputs of this run must not be used"
            )
        rows.append(
            {"file": f, "rows_read": n_read, "rows_in": n_read - c["rows_out_of_interval"], **c}
        )
    return rows


def file_alerts(
    files: list[dict[str, Any]], per: dict[str, dict[str, Any]], *, share: float
) -> list[dict[str, Any]]:
    """Files whose rows were mostly quarantined (at least ``share`` of the rows they
    contributed): one department's malformed export is reported, not fatal to the run."""
    alerts = []
    for f in files:
        if f["rows_in"] == 0 or f["rows_quarantined"] < share * f["rows_in"]:
            continue
        reasons = per.get(f["file"], {}).get("reasons", {})
        top = max(sorted(reasons), key=reasons.__getitem__) if reasons else None
        alerts.append(
            {
                "file": f["file"],
                "rows_in": f["rows_in"],
                "rows_quarantined": f["rows_quarantined"],
                "share_quarantined": round(f["rows_quarantined"] / f["rows_in"], 4),
                "top_reason": top,
                "message": f"{f['file']}: {f['rows_quarantined']} of {f['rows_in']} rows "
                f"quarantined (mostly {top}); check this export with its department, fix it "
                "and rerun the interval",
            }
        )
    return alerts


def _rows_in(raw: DataFrame) -> dict[str, int]:
    return {r[C.SOURCE_FILE]: int(r["count"]) for r in raw.groupBy(C.SOURCE_FILE).count().collect()}


def batch_id(mapping: SourceMapping, files: list[str]) -> str:
    """Deterministic id of an ingest batch: the same input gives the same batch.

    It starts with a letter: a partition value of hex digits alone (or digits, an ``e`` and
    digits) is read back by Spark's partition discovery as a number, which broke the
    quarantine's contract about once in 500 batches."""
    blob = json.dumps([mapping.name, sorted(files)])
    return "b" + hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _ingest_reference(
    spark: SparkSession, req: RunRequest, name: str, uri: str, batch: str
) -> tuple[DataFrame, dict[str, Any]]:
    raw = io.read_table_raw(spark, uri)
    tagged = (
        ingest.validate_catalog(raw.df) if name == "catalog" else ingest.validate_roster(raw.df)
    ).persist(StorageLevel.MEMORY_AND_DISK)
    per = _counts(ingest.summarize_status(tagged).collect())
    files = _reconcile(name, _rows_in(raw.df), per)
    io.write_table(
        ingest.to_clean(tagged),
        req.table(name),
        schemas.load(name),
        target_file_mb=req.config.output.target_file_mb,
    )
    io.write_table(
        ingest.to_quarantine(tagged, table=name, batch=batch),
        req.table("quarantine"),
        schemas.load("quarantine"),
        target_file_mb=req.config.output.target_file_mb,
    )
    tagged.unpersist()
    totals = {k: sum(f[k] for f in files) for k in ("rows_in", "rows_clean", "rows_quarantined")}
    reasons: dict[str, int] = {}
    for c in per.values():
        for r, n in c["reasons"].items():
            reasons[r] = reasons.get(r, 0) + n
    return spark.read.parquet(req.table(name)), {
        **totals,
        "quarantine_reasons": reasons,
        "files": [f["file"] for f in files],
    }


def _derive_catalog(spark: SparkSession, req: RunRequest, clean: DataFrame) -> dict[str, Any]:
    """Without a catalog: write one derived from this run's clean events (its items and their
    departments); what only a real catalog knows is null and reported as unavailable."""
    io.write_table(
        ingest.to_derived_catalog(clean),
        req.table("catalog"),
        schemas.load("catalog"),
        target_file_mb=req.config.output.target_file_mb,
    )
    n = spark.read.parquet(req.table("catalog")).count()
    return {
        "derived": True,
        "rows_in": 0,
        "rows_clean": n,
        "rows_quarantined": 0,
        "unavailable": [C.COMPLEXITY, C.TIME_LIMIT_DAYS, C.ONLINE_CAPABLE],
    }


def landing_days(
    start: dt.datetime | None, end: dt.datetime | None, *, time_zone: str, late_arrival_days: int
) -> tuple[dt.date | None, dt.date | None]:
    """The dates of the landing day folders that can hold events of the interval [start, end)
    (None: an open side): from the day before the start's local date through
    ``late_arrival_days`` after the end's.

    A folder's date is the day its export landed, up to ``late_arrival_days`` after its events'
    day. The day of margin on each side (the end's own date is a day past an interval ending at
    midnight) covers folders dated in another zone than ``time_zone``, such as UTC.
    """
    first = local_date(start, time_zone=time_zone)
    last = local_date(end, time_zone=time_zone)
    return (
        None if first is None else first - dt.timedelta(days=1),
        None if last is None else last + dt.timedelta(days=late_arrival_days),
    )


def select_landing(spark: SparkSession, req: RunRequest) -> io.LandingSelection:
    """The event files a run reads: with an interval, only the landing day folders that can
    hold its events (``io.select_landing_days``); otherwise every file under ``req.events``.

    Raises InputError when the interval selects nothing in a landing laid out by day.
    """
    files = io.list_files(spark, req.events)
    late = req.config.ingest.late_arrival_days
    first = last = None
    if req.start is not None or req.end is not None:
        first, last = landing_days(
            req.start, req.end, time_zone=req.config.ingest.time_zone, late_arrival_days=late
        )
    selection = io.select_landing_days(
        files, root=io.folder_uri(spark, req.events), first=first, last=last
    )
    if files and not selection.files:
        interval = ", ".join(t.isoformat() if t else "..." for t in (req.start, req.end))
        dates = f"{first or '...'} through {last or '...'}"
        raise io.InputError(
            f"no landing folder under {req.events} covers the interval [{interval}): none of "
            f"its {selection.folders_skipped} day folders is dated {dates} (the day before the "
            f"interval's first local day through ingest.late_arrival_days={late} after its "
            "end); check that the export of those days has landed"
        )
    return selection


def run_ingest(
    spark: SparkSession, req: RunRequest, *, timer: Timer, progress: Progress | None = None
) -> dict[str, Any]:
    """Ingest stage: reference tables, then events; returns the manifest's count sections."""
    say = progress or (lambda _m: None)
    with timer.stage("ingest"):
        landing = select_landing(spark, req)
        raw = io.read_raw(spark, req.events, mapping=req.mapping, files=landing.files)
        batch = batch_id(req.mapping, raw.files)
        reference: dict[str, Any] = {}
        catalog = None
        if req.catalog:
            say("validating the catalog")
            catalog, reference["catalog"] = _ingest_reference(
                spark, req, "catalog", req.catalog, batch
            )
        if req.roster:
            say("validating the roster")
            _, reference["roster"] = _ingest_reference(spark, req, "roster", req.roster, batch)
        folders = (
            f" ({landing.folders_read} of "
            f"{landing.folders_read + landing.folders_skipped} day folders)"
            if landing.layout == "daily"
            else ""
        )
        say(f"reading {len(raw.files)} event file(s){folders} through mapping {req.mapping.name!r}")
        canonical = ingest.to_canonical(raw.df, mapping=req.mapping)
        canonical = ingest.with_values_json(ingest.with_pseudonyms(canonical, key=req.key))
        tolerance = dt.timedelta(hours=req.config.ingest.future_tolerance_hours)
        parsed = ingest.with_parsed(
            canonical,
            mapping=req.mapping,
            time_zone=req.config.ingest.time_zone,
            latest_allowed=req.as_of + tolerance,
            catalog_items=catalog
            if (catalog is not None and req.config.ingest.require_catalog_item)
            else None,
        )
        interval = (req.start, req.end) if req.start or req.end else None
        tagged = ingest.flag_duplicates(parsed, interval=interval).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        say("validating and deduplicating events")
        per = _counts(ingest.summarize_status(tagged).collect())
        files = _reconcile("events", _rows_in(raw.df), per)
        say("writing clean events and quarantine")
        clean = ingest.to_clean(tagged)
        dates = [r[0] for r in clean.select(C.EVENT_DATE).distinct().collect()]
        io.write_table(
            clean,
            req.table("events"),
            schemas.load("events"),
            target_file_mb=req.config.output.target_file_mb,
        )
        io.write_table(
            ingest.to_quarantine(tagged, table="events", batch=batch),
            req.table("quarantine"),
            schemas.load("quarantine"),
            target_file_mb=req.config.output.target_file_mb,
        )
        if not req.catalog:
            say("deriving the catalog from the events (no --catalog)")
            reference["catalog"] = _derive_catalog(spark, req, clean)
        tagged.unpersist()
        rows_clean = sum(f["rows_clean"] for f in files)
        if dates:
            written = (
                spark.read.parquet(req.table("events"))
                .where(F.col(C.EVENT_DATE).isin(*dates))
                .count()
            )
            if written != rows_clean:
                raise ReconciliationError(
                    f"events: {rows_clean} clean rows but {written} in the written partitions"
                )
    reasons: dict[str, int] = {}
    dups: dict[str, int] = {C.DUPLICATE_EXACT: 0, C.DUPLICATE_SAME_EVENT: 0}
    for c in per.values():
        for r, n in c["reasons"].items():
            reasons[r] = reasons.get(r, 0) + n
        for k, n in c["duplicates"].items():
            dups[k] = dups.get(k, 0) + n
    return {
        "batch": batch,
        "rows_in": sum(f["rows_in"] for f in files),
        "rows_clean": rows_clean,
        "rows_quarantined": sum(f["rows_quarantined"] for f in files),
        "rows_duplicate": sum(f["rows_duplicate"] for f in files),
        "rows_out_of_interval": sum(f["rows_out_of_interval"] for f in files),
        "rows_read": sum(f["rows_read"] for f in files),
        "duplicates": dups,
        "quarantine_reasons": dict(sorted(reasons.items())),
        "sources": files,
        "file_alerts": file_alerts(files, per, share=req.config.ingest.file_alert_share),
        "reference": reference,
        "event_dates": sorted(d.isoformat() for d in dates),
        "landing": landing.manifest(late_arrival_days=req.config.ingest.late_arrival_days),
    }


def run_pipeline(
    spark: SparkSession,
    req: RunRequest,
    *,
    progress: Progress | None = None,
    stages: Collection[str] | None = None,
) -> dict[str, Any]:
    """Ingest, then the analytic stages (all, or those named in ``stages``; applications
    always), write ``manifest.json`` and return it."""
    check_stages(stages)
    timer = Timer()
    started = dt.datetime.now(dt.timezone.utc)
    say = progress or (lambda _m: None)
    counts = run_ingest(spark, req, timer=timer, progress=say)
    ctx = StageContext(spark=spark, req=req, timer=timer, say=say, counts=counts)
    ctx.outputs.update({t: req.table(t) for t in ("events", "quarantine")})
    ctx.outputs.update(
        {t: req.table(t) for t in ("catalog", "roster") if counts["reference"].get(t)}
    )
    sections: dict[str, Any] = {}
    failed: dict[str, str] = {}
    # A first run whose every row was quarantined leaves nothing to analyse: the stages say so
    # (and the report shows it), rather than failing to read an empty table.
    empty = not io.has_data(spark, req.table("events"))
    for name, stage in analytic_stages():
        if stages is None or name in stages or name == "applications":
            if empty and name != "reports":
                sections[name] = ctx.results[name] = {"status": "skipped", "reason": NO_EVENTS}
                if name == "applications":
                    sections[name]["rows"] = 0
                continue
            try:
                sections[name] = ctx.results[name] = stage(ctx)
            except Exception as e:
                if name in FOUNDATION:
                    raise
                # One stage's failure costs that stage: the others and the report still run.
                sections[name] = ctx.results[name] = failed_section(e)
                failed[name] = one_line(e)
                say(f"stage {name} failed: {failed[name]}")
                ctx.spark.catalog.clearCache()
    config_hash = req.config.hash(req.mapping.raw)
    manifest = {
        "manifest_version": 1,
        "run_id": hashlib.sha256(
            json.dumps(
                [config_hash, counts["batch"], req.as_of.isoformat(), str(req.start), str(req.end)]
            ).encode()
        ).hexdigest()[:16],
        "status": "failed" if failed else "succeeded",
        "failed_stages": failed,
        "started_at": started.isoformat(),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "as_of": req.as_of.isoformat(),
        "interval": None
        if req.start is None and req.end is None
        else {
            "start": req.start.isoformat() if req.start else None,
            "end": req.end.isoformat() if req.end else None,
        },
        "source_mapping": req.mapping.name,
        **counts,
        "applications": sections["applications"]["rows"],
        "stage_results": {k: v for k, v in sections.items() if v is not None},
        "stages": timer.stages,
        "versions": versions(spark),
        "config": req.config.to_dict(),
        "config_hash": config_hash,
        "pseudonym_key_id": key_id(req.key),
        "outputs": ctx.outputs,
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
    io.write_text(spark, req.table(MANIFEST), text)
    io.write_text(spark, req.table(f"manifests/{manifest['run_id']}.json"), text)
    if failed:
        raise StagesFailed(failed, manifest)
    return manifest


STAGE_RESULTS = "stage_results"  # <warehouse>/stage_results/<stage>.json: standalone jobs


def record_stage_result(spark: SparkSession, warehouse: str, stage: str, section: dict) -> None:
    """Keep the manifest section of a stage run on its own (a spark-submit job, as the DAGs
    run them) beside the warehouse's manifest.json, with the time it was written."""
    written = {"finished_at": dt.datetime.now(dt.timezone.utc).isoformat(), "section": section}
    text = json.dumps(written, indent=2, ensure_ascii=False, default=str)
    io.write_text(spark, io.join_uri(warehouse, STAGE_RESULTS, f"{stage}.json"), text)


def with_stage_results(spark: SparkSession, warehouse: str, manifest: dict) -> dict:
    """``manifest`` with ``stage_results`` updated from the standalone stage runs recorded
    after it finished (a later ``visitonce run`` supersedes them again)."""
    out = {**manifest, "stage_results": dict(manifest.get("stage_results") or {})}
    since = manifest.get("finished_at") or ""
    folder = io.join_uri(warehouse, STAGE_RESULTS)
    if not io.exists(spark, folder):
        return out
    for uri in io.list_files(spark, folder):
        name = uri.rstrip("/").rsplit("/", 1)[-1]
        if not name.endswith(".json") or name.startswith("."):
            continue
        written = json.loads(io.read_text(spark, uri))
        if written.get("finished_at", "") > since:
            out["stage_results"][name[: -len(".json")]] = written.get("section")
    return out


def make_request(
    *,
    events: str,
    out: str,
    catalog: str | None,
    roster: str | None,
    source: str = "canonical",
    config_file: str | None = None,
    as_of: str | None = None,
    start: str | None = None,
    end: str | None = None,
    language: str | None = None,
) -> RunRequest:
    """Validate command-line style arguments into a RunRequest, before any Spark work
    (``language``: a --lang option over the config's reports.language).

    Raises ConfigError / InputError / MissingKeyError with one-line, actionable messages.
    """
    from visitonce.config import ConfigError, load_config, with_report_language
    from visitonce.mapping import load_mapping
    from visitonce.pseudonym import key_from_env

    key = key_from_env()
    config = with_report_language(load_config(config_file), check_language(language))
    mapping = load_mapping(source)
    io.check_local_input(events, what="events input", flag="--events")
    if catalog:
        io.check_local_input(catalog, what="catalog", flag="--catalog")
    if roster:
        io.check_local_input(roster, what="roster", flag="--roster")
    tz = config.ingest.time_zone
    start_time = parse_time(start, flag="--start", time_zone=tz)
    end_time = parse_time(end, flag="--end", time_zone=tz)
    if start_time and end_time and start_time >= end_time:
        raise ConfigError(
            f"--start {start} is not before --end {end}: give an interval [start, end)"
        )
    as_of_time = parse_time(as_of, flag="--as-of", time_zone=tz) or (
        dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    )
    return RunRequest(
        events=events,
        out=out,
        mapping=mapping,
        key=key,
        as_of=as_of_time,
        start=start_time,
        end=end_time,
        catalog=catalog,
        roster=roster,
        config=config,
    )
