"""``visitonce watch``: live windows over files as they land, alerts within minutes, and the
officials in charge told (docs/real-time.md).

A Spark Structured Streaming query discovers the files landing in ``--events`` (the file
source and its checkpoint: each file is taken once, and a batch interrupted by a crash is run
again on restart). Each micro-batch is read through the same mapping, validation, pseudonyms
and deduplication as batch ingest; nothing is written to the event tables (batch ingest stays
the record). The clean rows join the watcher's recent events (``live_horizon_hours``, kept in
the checkpoint folder, identifiers pseudonymized), and every window of each
``monitor.live_window_minutes`` that the stream's event time has passed is judged against the
slot baselines and calibrated thresholds the batch monitor stage stored (``monitor_slots/``):
the same robust z-score, CUSUM and materiality as ``detect``. Anomalous, material windows of
one centre (or remote channel) within ``merge_gap_windows`` hours of each other are one
incident: one alert, updated while it goes on, with the proposals of ``alerts.desk_proposals``.

State in the warehouse: ``alerts_live/`` (one row per alert, its latest version) and
``alerts_live_deliveries/`` (one row per alert version and recipient: sent, failed or given
up). A delivery is attempted only when the log has no ``sent`` row for it, and logged right
after: a restart re-sends nothing that was logged as sent. Receivers get the alert id and
version in an ``Idempotency-Key`` header, for the one case no log can close (a crash between a
receiver's acknowledgement and the log write).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import re
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from visitonce import columns as C
from visitonce import ingest, io, schemas
from visitonce import messages as MSG
from visitonce.config import Config
from visitonce.mapping import SourceMapping
from visitonce.monitor import alerts as AL
from visitonce.monitor import detect as D
from visitonce.monitor import metrics as M
from visitonce.monitor import notify as N

ALERTS_TABLE = "alerts_live"
DELIVERIES_TABLE = "alerts_live_deliveries"
SLOTS_TABLE = "monitor_slots"
STATE_DIR = "recent"  # under the checkpoint: one folder per micro-batch, the last ones kept
FIRST = "_first_step"  # a recent row is its application's first step (first seen by the watcher)
FIRST_AT = "_first_at"
APPS_DAYS = 30  # applications remembered (their first step's time) for this many days
SENT, FAILED, GAVE_UP = "sent", "failed", "gave_up"

Say = Callable[[str], None]


@dataclasses.dataclass
class WatchRequest:
    """What ``visitonce watch`` was asked to do (validated by ``make_watch_request``)."""

    events: str
    warehouse: str
    checkpoint: str
    mapping: SourceMapping
    config: Config
    key: bytes
    webhook: str | None = None
    trigger_seconds: float = 30.0
    once: bool = False


@dataclasses.dataclass
class BatchResult:
    """Counts of one micro-batch (the watcher's log line and the tests' evidence)."""

    batch_id: int
    files: int = 0
    rows_in: int = 0
    rows_clean: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_late: int = 0
    event_time: dt.datetime | None = None
    windows_judged: int = 0
    alerts_new: int = 0
    alerts_updated: int = 0
    sent: int = 0
    failed: int = 0


def _utc(ts: Any) -> dt.datetime | None:
    if ts is None or (isinstance(ts, float) and math.isnan(ts)) or pd.isna(ts):
        return None
    t = pd.Timestamp(ts)
    return (t.tz_convert("UTC").tz_localize(None) if t.tzinfo else t).to_pydatetime()


class Watcher:
    """The micro-batch logic of ``visitonce watch`` (driver side; one instance per query)."""

    def __init__(self, spark: SparkSession, req: WatchRequest, *, say: Say | None = None) -> None:
        self.spark = spark
        self.req = req
        self.cfg = req.config.monitor
        self.tz = req.config.ingest.time_zone
        self.say = say or (lambda _m: None)
        self.lock = threading.Lock()
        self.results: list[BatchResult] = []
        wh = req.warehouse
        self.uri = {
            t: io.join_uri(wh, t)
            for t in (ALERTS_TABLE, DELIVERIES_TABLE, SLOTS_TABLE, "catalog", "roster")
        }
        if not io.has_data(spark, self.uri[SLOTS_TABLE]):
            raise io.InputError(
                f"no slot baselines at {self.uri[SLOTS_TABLE]}: run `visitonce run` (the monitor "
                "stage) on this warehouse's history first"
            )
        slots = spark.read.parquet(self.uri[SLOTS_TABLE]).toPandas()
        self.slots = slots[slots["window_minutes"].isin(self.cfg.live_window_minutes)]
        if self.slots.empty:
            raise io.InputError(
                f"{self.uri[SLOTS_TABLE]} has no baselines for windows of "
                f"{list(self.cfg.live_window_minutes)} minutes: rerun the monitor stage with "
                "this config's monitor.live_window_minutes"
            )
        self.catalog = self._reference("catalog")
        self.roster = self._reference("roster")
        self.seed = self._known_applications()
        self.apps: DataFrame | None = None

    # -- the micro-batch ------------------------------------------------------------------------

    def _reference(self, name: str) -> DataFrame | None:
        uri = self.uri[name]
        return self.spark.read.parquet(uri).cache() if io.has_data(self.spark, uri) else None

    def _known_applications(self) -> DataFrame | None:
        """Applications the warehouse already holds (their first step's time), from the last
        ``APPS_DAYS`` days of its history: a live step of one of them (a reply, a delivery) is no
        new arrival, though the watcher never saw its first step."""
        uri = io.join_uri(self.req.warehouse, "applications")
        if not io.has_data(self.spark, uri):
            return None
        apps = self.spark.read.parquet(uri)
        last = apps.agg(F.max(C.APPLIED_AT)).first()[0]
        if last is None:
            return None
        return (
            apps.where(F.col(C.APPLIED_AT) >= F.lit(last - dt.timedelta(APPS_DAYS)))
            .select(C.APPLICATION_ID, F.col(C.APPLIED_AT).alias(FIRST_AT))
            .localCheckpoint()
        )

    def process(self, files: DataFrame, batch_id: int) -> None:
        """``foreachBatch`` body: the batch's new files -> state, judged windows, alerts, sent."""
        paths = sorted(r[0] for r in files.select("path").distinct().collect())
        t0 = time.perf_counter()
        with self.lock:
            result = BatchResult(batch_id=batch_id, files=len(paths))
            recent, meta = self._load_state(batch_id)
            if paths:
                recent, meta = self._ingest(paths, recent, meta, result)
            self._save_state(batch_id, recent, meta)
            result.event_time = meta.get("event_time")
            if meta.get("event_time") is not None:
                self._judge(recent, meta, result)
            self._deliver_pending(result)
            self.results.append(result)
            self.say(
                f"batch {batch_id}: {result.files} file(s), {result.rows_clean} clean rows, "
                f"{result.rows_quarantined} quarantined, {result.rows_duplicate} duplicate, "
                f"{result.rows_late} late; event time {result.event_time}; "
                f"{result.alerts_new} new alert(s), {result.alerts_updated} update(s); "
                f"{result.sent} sent, {result.failed} failed; took {time.perf_counter() - t0:.1f} s"
            )

    def _state_root(self) -> str:
        return io.join_uri(self.req.checkpoint, STATE_DIR)

    def _load_state(self, batch_id: int) -> tuple[DataFrame | None, dict[str, Any]]:
        """The state the previous committed batch left (a replayed batch starts from it)."""
        root = self._state_root()
        self.apps = self.seed
        if not io.exists(self.spark, root):
            return None, {}
        ids = [b for b in _state_batches(self.spark, root, complete=True) if b < batch_id]
        if not ids:
            return None, {}
        last = io.join_uri(root, f"batch={max(ids)}")
        meta = json.loads(io.read_text(self.spark, io.join_uri(last, "meta.json")))
        if meta.get("event_time"):
            meta["event_time"] = dt.datetime.fromisoformat(meta["event_time"])
        data = io.join_uri(last, "events")
        recent = self.spark.read.parquet(data) if io.has_data(self.spark, data) else None
        apps = io.join_uri(last, "applications")
        self.apps = self.spark.read.parquet(apps) if io.has_data(self.spark, apps) else None
        return recent, meta

    def _save_state(self, batch_id: int, recent: DataFrame | None, meta: dict[str, Any]) -> None:
        root = self._state_root()
        here = io.join_uri(root, f"batch={batch_id}")
        if recent is not None:
            recent.coalesce(1).write.mode("overwrite").parquet(io.join_uri(here, "events"))
        if self.apps is not None:
            apps = io.join_uri(here, "applications")
            self.apps.coalesce(1).write.mode("overwrite").parquet(apps)
        text = json.dumps(
            {
                **meta,
                "event_time": meta["event_time"].isoformat() if meta.get("event_time") else None,
            }
        )
        io.write_text(self.spark, io.join_uri(here, "meta.json"), text)
        # keep this batch's state and the one before it (a replay needs only the previous)
        for old in sorted(b for b in _state_batches(self.spark, root) if b < batch_id - 1):
            io.drop_partition(self.spark, root, {"batch": old})

    def _ingest(
        self, paths: list[str], recent: DataFrame | None, meta: dict[str, Any], out: BatchResult
    ) -> tuple[DataFrame | None, dict[str, Any]]:
        """Read the new files as batch ingest does; join their clean rows to the recent ones."""
        req, spark = self.req, self.spark
        raw = io.read_raw(spark, req.events, mapping=req.mapping, files=paths)
        canonical = ingest.to_canonical(raw.df, mapping=req.mapping)
        canonical = ingest.with_values_json(ingest.with_pseudonyms(canonical, key=req.key))
        now = dt.datetime.now(dt.timezone.utc)
        tolerance = dt.timedelta(hours=req.config.ingest.future_tolerance_hours)
        catalog_items = (
            self.catalog.select(C.SERVICE_ITEM)
            if self.catalog is not None and req.config.ingest.require_catalog_item
            else None
        )
        parsed = ingest.with_parsed(
            canonical,
            mapping=req.mapping,
            time_zone=self.tz,
            latest_allowed=now + tolerance,
            catalog_items=catalog_items,
        )
        tagged = ingest.flag_duplicates(parsed).localCheckpoint()
        counts = {
            r[ingest.STATUS]: int(r["count"])
            for r in tagged.groupBy(ingest.STATUS).count().collect()
        }
        out.rows_in = sum(counts.values())
        out.rows_quarantined = counts.get(ingest.QUARANTINED, 0)
        keep = [
            C.SOURCE,
            *[c for c in C.EVENT_COLUMNS if c not in (C.CITIZEN_ID, C.OFFICIAL, C.LOCATION)],
        ]
        clean = ingest.to_clean(tagged).select(*keep)
        at = _arrival()
        event_time = meta.get("event_time")
        lateness = dt.timedelta(minutes=self.cfg.live_lateness_minutes)
        if event_time is not None:
            late = at < F.lit(event_time - lateness)
            out.rows_late = clean.where(late).count()
            clean = clean.where(~late)
        newest = clean.agg(F.max(at)).first()[0]
        if newest is not None and (event_time is None or newest > event_time):
            event_time = newest
        key = [C.SOURCE, C.EVENT_ID]
        if recent is not None:
            # rows already held (a file landed twice, a step exported again): duplicates
            held = clean.join(recent.select(*key), key, "left_semi").count()
            clean = clean.join(recent.select(*key), key, "left_anti")
        else:
            held = 0
        out.rows_duplicate = counts.get(ingest.DUPLICATE, 0) + held
        out.rows_clean = counts.get(ingest.CLEAN, 0) - out.rows_late - held
        merged = clean if recent is None else recent.unionByName(clean)
        # each application's first step as the watcher saw it: a later step of an application
        # whose first step left the horizon is no new arrival
        firsts = clean.groupBy(C.APPLICATION_ID).agg(F.min(at).alias(FIRST_AT))
        if self.apps is not None:
            firsts = (
                firsts.unionByName(self.apps)
                .groupBy(C.APPLICATION_ID)
                .agg(F.min(FIRST_AT).alias(FIRST_AT))
            )
        if event_time is not None:
            horizon = dt.timedelta(hours=self.cfg.live_horizon_hours)
            merged = merged.where(at >= F.lit(event_time - horizon))
            firsts = firsts.where(F.col(FIRST_AT) >= F.lit(event_time - dt.timedelta(APPS_DAYS)))
        self.apps = firsts.localCheckpoint()
        merged = merged.localCheckpoint()
        meta = {
            **meta,
            "event_time": event_time,
            "first_arrival": meta.get("first_arrival")
            or (clean.agg(F.min(at)).first()[0] or event_time).isoformat(),
        }
        return merged, meta

    # -- judging --------------------------------------------------------------------------------

    def _windows(self, recent: DataFrame, minutes: int, event_time: dt.datetime) -> pd.DataFrame:
        """Complete windows of ``minutes`` (end at or before the event time) of the recent
        events, with each series' usual arrivals; pandas (a few hundred rows)."""
        at = _arrival()
        if self.apps is None:
            marked = recent.withColumn(FIRST, F.lit(True))
        else:
            marked = recent.join(self.apps, C.APPLICATION_ID, "left").withColumn(
                FIRST, F.coalesce(at <= F.col(FIRST_AT), F.lit(False))
            )
        w = M.to_window_metrics(
            marked, catalog=self.catalog, roster=self.roster, time_zone=self.tz,
            window_minutes=minutes, first_step=FIRST,
        )  # fmt: skip
        pdf = w.where(F.col(M.WINDOW_END) <= F.lit(event_time)).toPandas()
        if pdf.empty:
            return pdf
        usual = self.slots[
            (self.slots["window_minutes"] == minutes) & (self.slots["metric"] == "arrivals")
        ][[*M.SERIES, M.DAYTYPE, M.SLOT, "expected"]].rename(
            columns={"expected": M.ARRIVALS_EXPECTED}
        )
        return pdf.merge(usual, on=[*M.SERIES, M.DAYTYPE, M.SLOT], how="left")

    def _long(self, windows: pd.DataFrame, minutes: int, first: dt.datetime) -> pd.DataFrame:
        """One row per window, series and metric, with the slot's baseline. Arrivals of a
        series that usually has some in a judged window but sent none are 0 (an outage)."""
        n_of = {
            "waiting_p50_min": "n_waits", "waiting_p90_min": "n_waits",
            "queue_estimate": "n_waits", "processing_p50_min": "arrivals",
            "satisfaction_mean": "n_rated", "arrivals": "arrivals",
        }  # fmt: skip
        ctx = [M.WINDOW_START, M.WINDOW_END, M.LOCAL_DATE, M.SLOT, M.DAYTYPE, *M.SERIES,
               M.ONLINE_CAPABLE_ARRIVALS, M.PROCESSING_MEAN, M.OFFICIALS]  # fmt: skip
        frames = []
        for metric, n in n_of.items():
            f = windows[ctx].copy()
            f[M.VALUE] = windows[metric].astype(float)
            f[M.N] = windows[n].fillna(0).astype("int64")
            f[M.METRIC] = metric
            frames.append(f[f[M.VALUE].notna()])
        long = pd.concat(frames, ignore_index=True)
        # zero arrivals: windows the stream has covered (from its first arrival) where a series
        # with usual arrivals has no row
        starts = sorted(set(windows[M.WINDOW_START]))
        if starts:
            base = self.slots[
                (self.slots["window_minutes"] == minutes)
                & (self.slots["metric"] == "arrivals")
                & (self.slots["expected"] >= self.cfg.min_expected_volume)
            ]
            grid = windows[[M.WINDOW_START, M.WINDOW_END, M.LOCAL_DATE, M.SLOT, M.DAYTYPE]]
            grid = grid.drop_duplicates()
            grid = grid[grid[M.WINDOW_START] >= pd.Timestamp(first)]
            exp = grid.merge(base[[*M.SERIES, M.DAYTYPE, M.SLOT]], on=[M.DAYTYPE, M.SLOT])
            have = long[long[M.METRIC] == "arrivals"][[M.WINDOW_START, *M.SERIES]]
            key = [M.WINDOW_START, *M.SERIES]
            exp_k = exp[key].fillna("§").astype(str).agg("|".join, axis=1)
            have_k = set(have[key].fillna("§").astype(str).agg("|".join, axis=1))
            missing = exp[~exp_k.isin(have_k)].copy()
            if not missing.empty:
                missing[M.VALUE] = 0.0
                missing[M.N] = 0
                missing[M.METRIC] = "arrivals"
                for c in (M.ONLINE_CAPABLE_ARRIVALS, M.PROCESSING_MEAN, M.OFFICIALS):
                    missing[c] = np.nan
                long = pd.concat([long, missing[long.columns]], ignore_index=True)
        base = self.slots[self.slots["window_minutes"] == minutes][
            [*M.SERIES, M.METRIC, M.DAYTYPE, M.SLOT, "expected", "scale", "n_history", "threshold"]
        ]
        keys = [*M.SERIES, M.METRIC, M.DAYTYPE, M.SLOT]
        long = long.merge(
            base.rename(columns={"expected": "_med", "scale": "_scale"}), on=keys, how="left"
        )
        long["window_minutes"] = minutes
        return long

    def _score(self, long: pd.DataFrame) -> pd.DataFrame:
        out = []
        series = long[M.SERIES].fillna("§").astype(str).agg("|".join, axis=1)
        for (_, metric), g in long.groupby([series, long[M.METRIC]]):
            g = g.sort_values(M.WINDOW_START).reset_index(drop=True)
            med = g["_med"].to_numpy(dtype=float)
            count = g["n_history"].fillna(0).to_numpy(dtype=float)
            scale = g["_scale"].fillna(1.0).to_numpy(dtype=float)
            out.append(
                D.score(g, metric=metric, med=med, scale=scale, count=count, config=self.cfg)
            )
        return pd.concat(out, ignore_index=True) if out else long.iloc[0:0]

    def _judge(self, recent: DataFrame | None, meta: dict[str, Any], out: BatchResult) -> None:
        if recent is None:
            return
        event_time = meta["event_time"]
        first = dt.datetime.fromisoformat(meta["first_arrival"])
        judged, day_windows = [], {}
        for minutes in sorted(set(self.slots["window_minutes"])):
            windows = self._windows(recent, int(minutes), event_time)
            if windows.empty:
                continue
            day_windows[int(minutes)] = windows
            judged.append(self._score(self._long(windows, int(minutes), first)))
        if not judged:
            return
        scored = pd.concat(judged, ignore_index=True)
        out.windows_judged = int(scored[M.WINDOW_START].nunique())
        cand = scored[scored[D.ANOMALOUS] & scored[D.MATERIAL]].copy()
        if cand.empty:
            return
        cand[AL.KEY] = cand[C.CENTER].where(cand[C.CENTER].notna(), "remote:" + cand[C.CHANNEL])
        limit = cand["threshold"].fillna(self.cfg.z_threshold)
        cand = cand[cand[D.SCORE] >= limit]
        if cand.empty:
            return
        self._incidents(cand, day_windows, event_time, out)

    # -- incidents and alerts -------------------------------------------------------------------

    def _incidents(
        self,
        cand: pd.DataFrame,
        day_windows: dict[int, pd.DataFrame],
        event_time: dt.datetime,
        out: BatchResult,
    ) -> None:
        gap = pd.Timedelta(minutes=60 * self.cfg.merge_gap_windows)
        alerts = self._read(ALERTS_TABLE)
        rows = {r["alert_id"]: r for r in alerts.to_dict("records")}
        changed: set[str] = set()
        for unit, g in cand.sort_values(M.WINDOW_START).groupby(AL.KEY):
            for _, w in g.iterrows():
                start, end = pd.Timestamp(w[M.WINDOW_START]), pd.Timestamp(w[M.WINDOW_END])
                open_ = [
                    r for r in rows.values()
                    if r[AL.KEY] == unit and pd.Timestamp(r["last_window_end"]) >= start - gap
                    and pd.Timestamp(r["first_seen"]) <= end + gap
                ]  # fmt: skip
                if open_:
                    r = max(open_, key=lambda r: pd.Timestamp(r["first_seen"]))
                    seen = set(r["windows_seen"])
                    tag = f"{w['window_minutes']}|{start.isoformat()}"
                    grew = float(w[D.SCORE]) > float(r["score"])
                    if tag in seen and not grew:
                        continue
                    seen.add(tag)
                    r["windows_seen"] = sorted(seen)
                    r["n_windows"] = len({t.split("|", 1)[1] for t in seen})
                    r["updates"] = r["n_windows"] - 1
                    r["last_window_end"] = max(pd.Timestamp(r["last_window_end"]), end)
                    r["metrics"] = sorted(set(r["metrics"]) | {w[M.METRIC]})
                    r["channels"] = sorted(set(r["channels"]) | {w[C.CHANNEL]} - {None})
                    if isinstance(w[C.DEPARTMENT], str):
                        r["departments"] = sorted(set(r["departments"]) | {w[C.DEPARTMENT]})
                    if grew:
                        r.update(self._peak(w))
                    changed.add(r["alert_id"])
                else:
                    ident = hashlib.sha256(f"{unit}|{start.isoformat()}".encode()).hexdigest()[:16]
                    if ident in rows:  # a replayed batch
                        continue
                    r = {
                        "alert_id": ident, AL.KEY: unit, "first_seen": start.to_pydatetime(),
                        "last_window_end": end.to_pydatetime(), "n_windows": 1, "updates": 0,
                        "windows_seen": [f"{w['window_minutes']}|{start.isoformat()}"],
                        "metrics": [w[M.METRIC]], "channels": [w[C.CHANNEL]],
                        "departments": [w[C.DEPARTMENT]] if isinstance(w[C.DEPARTMENT], str)
                        else [],
                        "version": 0, "notified_score": None, "notified_at": None,
                        "raised_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
                        "event_time_raised": event_time,
                        **self._peak(w),
                    }  # fmt: skip
                    rows[ident] = r
                    out.alerts_new += 1
                    changed.add(ident)
        if not changed:
            return
        for ident in changed:
            r = rows[ident]
            windows = day_windows.get(int(r["window_minutes"]))
            props: list[dict] = []
            if windows is not None and r.get("center"):
                local = pd.Timestamp(r["alert_date"])
                same = windows[
                    (windows[C.CENTER] == r["center"])
                    & (pd.to_datetime(windows[M.LOCAL_DATE]) == local)
                ]
                alert = pd.Series(
                    {**r, **{k: pd.Timestamp(r[k]) for k in (M.WINDOW_START, M.WINDOW_END)}}
                )
                props = AL.desk_proposals(
                    alert, same, config=self.cfg, time_zone=self.tz
                ) if not same.empty else []  # fmt: skip
            r["proposals"] = [MSG.english(m) for m in props]
            r["proposal_messages"] = [MSG.encode(m) for m in props]
        out.alerts_updated = len(changed) - out.alerts_new
        self._notify(rows, changed, event_time, out)
        self._write(ALERTS_TABLE, pd.DataFrame(list(rows.values())))

    def _peak(self, w: pd.Series) -> dict[str, Any]:
        start = pd.Timestamp(w[M.WINDOW_START])
        local = start.tz_localize("UTC").tz_convert(self.tz)
        end_local = pd.Timestamp(w[M.WINDOW_END]).tz_localize("UTC").tz_convert(self.tz)
        return {
            "center": w[C.CENTER] if isinstance(w[C.CENTER], str) else None,
            "channel": w[C.CHANNEL],
            "department": w[C.DEPARTMENT] if isinstance(w[C.DEPARTMENT], str) else None,
            "metric": w[M.METRIC],
            "value": float(w[M.VALUE]),
            "expected": float(w[D.EXPECTED]) if pd.notna(w[D.EXPECTED]) else None,
            "score": float(w[D.SCORE]),
            "threshold": float(w["threshold"]) if pd.notna(w["threshold"])
            else float(self.cfg.z_threshold),
            "direction": w[D.DIRECTION_COL],
            "window_start": start.to_pydatetime(),
            "window_end": pd.Timestamp(w[M.WINDOW_END]).to_pydatetime(),
            "window_minutes": int(w["window_minutes"]),
            "window_local": f"{local:%Y-%m-%d %H:%M}-{end_local:%H:%M}",
            "peak_at": start.to_pydatetime(),
            "alert_date": local.date(),
            M.OFFICIALS: float(w[M.OFFICIALS]) if pd.notna(w[M.OFFICIALS]) else None,
        }  # fmt: skip

    # -- telling people -------------------------------------------------------------------------

    def _notify(
        self, rows: dict[str, dict], changed: set[str], event_time: dt.datetime, out: BatchResult
    ) -> None:
        """Queue a notification for each new alert, and for an update whose peak grew by
        ``live_update_ratio``, within ``live_max_per_unit_hour`` per unit (by event time)."""
        log = self._read(DELIVERIES_TABLE)
        hour = pd.Timestamp(event_time) - pd.Timedelta(hours=1)
        queued = []
        for ident in sorted(changed, key=lambda i: rows[i]["first_seen"]):
            r = rows[ident]
            last = r.get("notified_score")
            if last is not None and not pd.isna(last):
                if float(r["score"]) < self.cfg.live_update_ratio * float(last):
                    continue
                version = int(r["version"]) + 1
            else:
                version = 0
            recent = [
                x for x in rows.values()
                if x[AL.KEY] == r[AL.KEY] and x.get("notified_at") is not None
                and not pd.isna(x.get("notified_at")) and pd.Timestamp(x["notified_at"]) >= hour
            ]  # fmt: skip
            if len(recent) >= self.cfg.live_max_per_unit_hour:
                continue
            r["version"] = version
            r["notified_score"] = float(r["score"])
            r["notified_at"] = pd.Timestamp(event_time).to_pydatetime()
            doc = N.document(r)
            for rec in N.recipients(r, self.cfg.contacts, catch_all=self.req.webhook):
                queued.append(
                    {
                        "alert_id": ident, "version": version, "recipient": rec.key,
                        "status": FAILED, "attempts": 0, "rounds": 0, "last_error": None,
                        "sent_at": None, "document": json.dumps(doc, ensure_ascii=False),
                    }
                )  # fmt: skip
        if queued:
            parts = [f.dropna(axis=1, how="all") for f in (log, pd.DataFrame(queued))]
            log = pd.concat([p for p in parts if not p.empty], ignore_index=True).reindex(
                columns=schemas.load(DELIVERIES_TABLE).names
            )
            log = log.drop_duplicates(["alert_id", "version", "recipient"], keep="first")
            self._write(DELIVERIES_TABLE, log)

    def _deliver_pending(self, out: BatchResult) -> None:
        """Send every logged delivery that is neither sent nor given up; log each result."""
        log = self._read(DELIVERIES_TABLE)
        if log.empty:
            return
        todo = log["status"] == FAILED
        if not todo.any():
            return
        for i in log.index[todo]:
            row = log.loc[i]
            kind, address = row["recipient"].split(":", 1)
            ok, attempts, error = N.deliver(
                N.Recipient(kind, address), json.loads(row["document"]), config=self.cfg
            )
            log.at[i, "attempts"] = int(row["attempts"]) + attempts
            log.at[i, "rounds"] = int(row["rounds"]) + 1
            if ok:
                log.at[i, "status"] = SENT
                log.at[i, "sent_at"] = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
                log.at[i, "last_error"] = None
                out.sent += 1
            else:
                log.at[i, "last_error"] = error
                out.failed += 1
                if int(log.at[i, "rounds"]) >= self.cfg.delivery_rounds:
                    log.at[i, "status"] = GAVE_UP
            # logged after each delivery: a crash later in the batch re-sends none of these
            self._write(DELIVERIES_TABLE, log)

    def retry(self) -> None:
        """Deliveries still failing, retried between batches (a quiet stream runs no batch)."""
        with self.lock:
            result = BatchResult(batch_id=-1)
            self._deliver_pending(result)
            if result.sent or result.failed:
                self.say(f"retried deliveries: {result.sent} sent, {result.failed} failed")

    def _read(self, table: str) -> pd.DataFrame:
        """A state table of the warehouse (alerts_live, the sent-log) in pandas; empty with the
        contract's columns before the first write."""
        uri = self.uri[table]
        if not io.has_data(self.spark, uri):
            return pd.DataFrame(columns=schemas.load(table).names)
        return self.spark.read.parquet(uri).toPandas()

    def _write(self, table: str, pdf: pd.DataFrame) -> None:
        contract = schemas.load(table)
        pdf = pdf.reindex(columns=contract.names)
        for c in contract.columns:
            if c.type == "timestamp":
                pdf[c.name] = pd.to_datetime(pdf[c.name]).astype("datetime64[us]")
        rows = [tuple(_py(v) for v in r) for r in pdf.itertuples(index=False, name=None)]
        df = self.spark.createDataFrame(rows, schema=schemas.spark_schema(contract))
        io.write_table(df.coalesce(1), self.uri[table], contract)


def _state_batches(spark: SparkSession, root: str, *, complete: bool = False) -> set[int]:
    """Micro-batch ids with a state folder under ``root``; ``complete``: only those whose
    ``meta.json`` was written (it is written last)."""
    found = set()
    for f in io.list_files(spark, root):
        m = re.search(r"/batch=(\d+)/(.*)$", f)
        if m and (not complete or m[2] == "meta.json"):
            found.add(int(m[1]))
    return found


def _arrival() -> Column:
    """When a step reached its desk or queue: its arrival, else its start."""
    return F.coalesce(F.col(C.ARRIVED_AT), F.col(C.STARTED_AT))


def _py(v: Any) -> Any:
    """A pandas cell as the plain Python value Spark's row path takes (NaN/NaT -> None)."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_py(x) for x in v]
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, np.generic):
        return v.item()
    return v


def make_watch_request(
    *,
    events: str,
    warehouse: str,
    source: str = "canonical",
    config_file: str | None = None,
    webhook: str | None = None,
    trigger_seconds: float = 30.0,
    checkpoint: str | None = None,
    once: bool = False,
) -> WatchRequest:
    """Validate ``visitonce watch`` arguments before any Spark work (one-line errors)."""
    from visitonce.config import ConfigError, load_config
    from visitonce.mapping import load_mapping
    from visitonce.pseudonym import key_from_env

    key = key_from_env()
    config = load_config(config_file)
    mapping = load_mapping(source)
    io.check_local_input(events, what="events folder", flag="--events")
    io.check_local_input(warehouse, what="warehouse", flag="--warehouse")
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise ConfigError(f"--webhook {webhook!r} is not an http(s) URL (e.g. https://host/hook)")
    if not trigger_seconds > 0:
        raise ConfigError("--trigger-seconds must be > 0 (e.g. 30)")
    if not config.monitor.live_window_minutes:
        raise ConfigError("monitor.live_window_minutes is empty: give the window lengths to watch")
    return WatchRequest(
        events=events,
        warehouse=warehouse,
        checkpoint=checkpoint or io.join_uri(warehouse, "watch_checkpoint"),
        mapping=mapping,
        config=config,
        key=key,
        webhook=webhook,
        trigger_seconds=trigger_seconds,
        once=once,
    )


def start(spark: SparkSession, req: WatchRequest, *, say: Say | None = None) -> Watcher:
    """Run the watcher: with ``req.once`` until the landed files are processed, else until
    SIGINT / SIGTERM. Returns the watcher (its ``results``, one per micro-batch)."""
    say = say or (lambda _m: None)
    watcher = Watcher(spark, req, say=say)
    files = (
        spark.readStream.format("binaryFile")
        .schema("path string, modificationTime timestamp, length long, content binary")
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", _glob(req.mapping))
        .load(req.events)
        .select("path")
    )
    writer = (
        files.writeStream.foreachBatch(watcher.process)
        .option("checkpointLocation", io.join_uri(req.checkpoint, "stream"))
        .queryName("visitonce-watch")
    )
    if req.once:
        query = writer.trigger(availableNow=True).start()
        query.awaitTermination()
        watcher.retry()
        return watcher
    query = writer.trigger(processingTime=f"{req.trigger_seconds:g} seconds").start()
    stop = threading.Event()

    def _stop(_sig: int, _frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    say(f"watching {req.events} every {req.trigger_seconds:g} s (Ctrl-C to stop)")
    while not stop.is_set() and query.isActive:
        stop.wait(max(req.trigger_seconds, 1.0))
        if query.exception() is not None:
            break
        watcher.retry()
    query.stop()
    error = query.exception()
    if error is not None:
        raise RuntimeError(f"the watch query failed: {str(error).splitlines()[0]}")
    return watcher


def _glob(mapping: SourceMapping) -> str:
    """Files the watcher takes: those of the mapping's format (hidden and temporary files,
    still being written elsewhere, are skipped: land files by moving them in)."""
    return {"csv": "*.csv*", "jsonl": "*.json*", "parquet": "*.parquet", "xes": "*.xes*"}.get(
        mapping.format, "[!._]*"
    )
