"""The reports stage: read the small output tables present under a run's output root, render
``reports/`` (index.html and the pages it links) and write the exports. The package's only
reads and writes.

Only small tables are collected to the driver (bundles and associations of the latest period,
lagging steps, top transitions, alerts, scorecards); the requests export is written by the
executors and concatenated into one JSON array in the JVM, never through Python.
"""

from __future__ import annotations

import csv
import io as pyio
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from visitonce import io
from visitonce.config import Config
from visitonce.report import demand as D
from visitonce.report import exports
from visitonce.report.model import ReportInputs
from visitonce.report.render import render_site

if TYPE_CHECKING:
    from visitonce.context import StageContext

REPORTS = "reports"
SCORECARD_TABLES = ("scorecards", "scorecard_kpis", "scorecard_equity", "scorecard_explanations")
DEMAND_TABLES = ("demand", "demand_forecast", "staffing_plan", "service_hours", "digital_gap",
                 "reform_priorities")  # fmt: skip


# The tables each analytic stage writes: a stage that failed in this run shows "failed" on its
# page, never an older copy of its tables.
STAGE_TABLES = {
    "bundles": ("bundles", "bundle_changes", "item_associations"),
    "lagging": ("lagging_steps", "step_transitions"),
    "monitor": ("alerts",),
    "scorecards": SCORECARD_TABLES,
    "demand": DEMAND_TABLES,
}


def stale_tables(manifest: dict[str, Any]) -> set[str]:
    """Tables of the stages that failed in the run ``manifest`` describes: not to be shown."""
    from visitonce.report.render import failures

    return {t for stage in failures(manifest) for t in STAGE_TABLES.get(stage, ())}


def _table(spark: SparkSession, root: str, name: str) -> DataFrame | None:
    """A table under ``root``, or None when it was not written (stage skipped or absent)."""
    uri = io.join_uri(root, name)
    if not io.exists(spark, uri):
        return None
    try:
        return spark.read.parquet(uri)
    except Exception as e:  # an empty folder (no partition written) has no schema to infer
        if "UNABLE_TO_INFER_SCHEMA" in str(e) or "Unable to infer schema" in str(e):
            return None
        raise


def _latest(df: DataFrame | None, column: str = "period_end") -> DataFrame | None:
    if df is None or column not in df.columns:
        return df
    last = df.agg(F.max(column)).first()
    if last is None or last[0] is None:
        return df.limit(0)
    return df.where(F.col(column) == F.lit(last[0]))


def _pandas(df: DataFrame | None) -> pd.DataFrame | None:
    return None if df is None else df.toPandas()


def read_inputs(
    spark: SparkSession,
    root: str,
    *,
    config: Config,
    manifest: dict[str, Any],
    with_key: bool = False,
) -> ReportInputs:
    """Collect the small tables the pages are drawn from (each None when absent)."""
    stale = stale_tables(manifest)
    t = {name: None if name in stale else _table(spark, root, name) for name in (
        "bundles", "bundle_changes", "item_associations", "lagging_steps", "step_transitions",
        "alerts", "catalog", *SCORECARD_TABLES, *DEMAND_TABLES,
    )}  # fmt: skip
    transitions = t["step_transitions"]
    if transitions is not None and "rank_in_item" in transitions.columns:
        transitions = transitions.where(F.col("rank_in_item") <= 3)
    catalog = t["catalog"]
    if catalog is not None:
        catalog = catalog.select(
            *[c for c in ("service_item", "item_name") if c in catalog.columns]
        )
    demand, forecast = t["demand"], t["demand_forecast"]
    min_group = config.demand.min_group
    return ReportInputs(
        manifest=manifest,
        bundles=_pandas(_latest(t["bundles"])),
        bundle_changes=_pandas(_latest(t["bundle_changes"])),
        item_associations=_pandas(_latest(t["item_associations"])),
        lagging_steps=_pandas(t["lagging_steps"]),
        step_transitions=_pandas(transitions),
        alerts=_pandas(t["alerts"]),
        scorecards=_pandas(t["scorecards"]),
        scorecard_kpis=_pandas(t["scorecard_kpis"]),
        scorecard_equity=_pandas(t["scorecard_equity"]),
        scorecard_explanations=_pandas(t["scorecard_explanations"]),
        catalog=_pandas(catalog),
        # the demand table is per item x centre x channel x district x hour: aggregated first
        demand_by_item=_pandas(
            None
            if demand is None
            else D.summarize_demand_trend(demand, by="service_item", min_group=min_group)
        ),
        demand_by_channel=_pandas(
            None
            if demand is None
            else D.summarize_demand_trend(demand, by="channel", min_group=min_group)
        ),
        demand_forecast_summary=_pandas(
            None if forecast is None else D.summarize_forecast(forecast)
        ),
        staffing_plan=_pandas(t["staffing_plan"]),
        service_hours=_pandas(t["service_hours"]),
        digital_gap=_pandas(t["digital_gap"]),
        reform_priorities=_pandas(t["reform_priorities"]),
        time_zone=config.ingest.time_zone,
        top_bundles=config.reports.top_bundles,
        matrix_items=config.reports.matrix_items,
        min_effect=config.lagging.min_effect,
        language=config.reports.language,
        exports=planned_exports(spark, root, config=config, with_key=with_key, stale=stale),
    )


def planned_exports(
    spark: SparkSession, root: str, *, config: Config, with_key: bool, stale: set[str]
) -> list:
    """The export files write_exports will write (same conditions)."""
    out = []
    if "scorecards" not in stale and io.exists(spark, io.join_uri(root, "scorecards")):
        out += ["scorecards.csv", "scorecards.json"]
    if (
        with_key
        and config.reports.export_requests
        and io.exists(spark, io.join_uri(root, "applications"))
    ):
        out.append("requests.json")
    return out


def _csv_cell(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        v = v.tolist()
    return ";".join(map(str, v)) if isinstance(v, (list, tuple)) else v


def _csv(df: pd.DataFrame) -> str:
    """CSV text; array cells (e.g. ``unavailable_kpis``) as ``a;b``."""
    df = df.copy()
    for name in df.columns:
        if df[name].map(lambda v: isinstance(v, (np.ndarray, list, tuple))).any():
            df[name] = df[name].map(_csv_cell).astype(object)
    buf = pyio.StringIO()
    df.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return buf.getvalue()


def write_json_array(spark: SparkSession, lines: DataFrame, uri: str) -> None:
    """Write rows of JSON text (column ``value``, each starting with a comma) as one JSON
    array file: the executors write the parts, the JVM concatenates them in order and drops
    the first comma. Python never holds the rows."""
    parts_uri = uri + ".parts"
    lines.write.mode("overwrite").text(parts_uri)
    fs, target = io._hadoop_path(spark, uri)
    _, parts = io._hadoop_path(spark, parts_uri)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    files = sorted(
        (s for s in fs.listStatus(parts) if s.getPath().getName().startswith("part-")),
        key=lambda s: s.getPath().getName(),
    )
    out = fs.create(target, True)
    try:
        out.write(bytearray(b"[\n"))
        first = True
        for status in files:
            if status.getLen() == 0:
                continue
            stream = fs.open(status.getPath())
            try:
                if first:
                    stream.skip(1)  # the leading comma of the very first object
                    first = False
                jvm.org.apache.hadoop.io.IOUtils.copyBytes(stream, out, 65536, False)
            finally:
                stream.close()
        out.write(bytearray(b"]\n"))
    finally:
        out.close()
    fs.delete(parts, True)


def write_exports(
    spark: SparkSession, root: str, *, config: Config, key: bytes | None, manifest: dict
) -> dict[str, Any]:
    """reports/exports/: scorecards.csv / .json (suppressed) and requests.json (Open311)."""
    k = config.reports.k_suppress
    base = io.join_uri(root, REPORTS, "exports")
    result: dict[str, Any] = {"k_suppress": k}
    scorecards = (
        None if "scorecards" in stale_tables(manifest) else _table(spark, root, "scorecards")
    )
    if scorecards is not None:
        published = exports.suppress_scorecards(scorecards.toPandas(), k=k)
        # Excel reads a CSV without a byte-order mark in the machine's code page (GBK on a
        # Chinese Windows): with zh-CN the file starts with the UTF-8 BOM so names read right
        bom = "\ufeff" if config.reports.language == "zh-CN" else ""
        io.write_text(spark, io.join_uri(base, "scorecards.csv"), bom + _csv(published))
        doc = {
            "config_hash": manifest.get("config_hash"),
            "k_suppress": k,
            "suppression": "rows with fewer than k_suppress applications keep only their "
            "keys; every figure is null and suppressed is true",
            "scorecards": exports.scorecard_records(published),
        }
        io.write_text(
            spark,
            io.join_uri(base, "scorecards.json"),
            json.dumps(doc, indent=1, ensure_ascii=False, default=str),
        )
        result["scorecards"] = len(published)
        result["scorecards_suppressed"] = int(published["suppressed"].sum())
    applications = _table(spark, root, "applications")
    if applications is not None and key is not None and config.reports.export_requests:
        requests = exports.to_open311_requests(
            applications,
            key=key,
            k=k,
            time_zone=config.ingest.time_zone,
            catalog=_table(spark, root, "catalog"),
        )
        write_json_array(
            spark, exports.to_json_lines(requests, prefix=","), io.join_uri(base, "requests.json")
        )
        result["requests"] = applications.count()
    return result


def write_reports(
    spark: SparkSession,
    root: str,
    *,
    config: Config,
    manifest: dict[str, Any],
    key: bytes | None,
) -> dict[str, Any]:
    """Render every page and export under ``<root>/reports``; returns the manifest section."""
    inputs = read_inputs(spark, root, config=config, manifest=manifest, with_key=key is not None)
    pages = render_site(inputs)
    # rendered first, so a failure leaves the previous report; then cleared, so no page of a
    # department that is no longer scored lingers
    io.delete(spark, io.join_uri(root, REPORTS))
    for name, html in pages.items():
        io.write_text(spark, io.join_uri(root, REPORTS, name), html)
    exported = write_exports(spark, root, config=config, key=key, manifest=manifest)
    present = [n for n, v in vars(inputs).items() if isinstance(v, pd.DataFrame) and n != "catalog"]
    return {
        "pages": len(pages),
        "index": io.join_uri(root, REPORTS, "index.html"),
        "tables": sorted(present),
        "exports": exported,
    }


def run_manifest(ctx: StageContext) -> dict[str, Any]:
    """What the pages show about the run in progress (its manifest is written after the last
    stage): counts from ingest, config hash, versions."""
    from visitonce.context import versions

    req = ctx.req
    counts = getattr(ctx, "counts", {}) or {}
    apps = _table(ctx.spark, req.out, "applications")
    return {
        **{k: counts.get(k) for k in ("rows_in", "rows_clean", "rows_quarantined",
                                      "rows_duplicate")},
        "applications": apps.count() if apps is not None else None,
        "as_of": req.as_of.isoformat(),
        "source_mapping": req.mapping.name,
        "config": req.config.to_dict(),
        "config_hash": req.config.hash(req.mapping.raw),
        "versions": versions(ctx.spark),
        # sections of the stages that ran before (e.g. the demand stage's forecast errors)
        "stage_results": dict(getattr(ctx, "results", {}) or {}),
    }  # fmt: skip


def reports_stage(ctx: StageContext) -> dict[str, Any]:
    """Pipeline stage (last): reports/ from whatever tables this run and earlier ones wrote."""
    with ctx.timer.stage("reports"):
        ctx.say("writing the HTML reports and exports")
        result = write_reports(
            ctx.spark,
            ctx.req.out,
            config=ctx.req.config,
            manifest=run_manifest(ctx),
            key=ctx.req.key,
        )
    ctx.outputs["reports"] = io.join_uri(ctx.req.out, REPORTS)
    return result
