"""The "Demand and staffing" page: reform priorities, the staffing plan as a centre x hour heat
map, service hours, the digital take-up gap by age band, forecast errors and demand trends
(tables of visitonce.demand; method in docs/methodology-demand.md).

Two kinds of function: Spark transforms that shrink the large demand tables to per-item,
per-channel and per-centre aggregates before the stage collects them, and ``demand_page``,
which turns the collected pandas frames (each None when the table is absent) into the page's
context. Nothing here reads or writes.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from visitonce.report import fmt, i18n, svg
from visitonce.report.i18n import N_, _
from visitonce.report.model import ReportInputs, records

WEEKDAYS = {1: N_("Mon"), 2: N_("Tue"), 3: N_("Wed"), 4: N_("Thu"), 5: N_("Fri"), 6: N_("Sat"),
            7: N_("Sun")}  # fmt: skip
METHOD_LABELS = {
    "naive_last_week": N_("naive (last week repeated)"),
    "seasonal_baseline": N_("seasonal baseline"),
    "model": N_("model (gradient boosting)"),
}


def weekday(day: Any) -> str:
    """ISO weekday 1-7 as its short name in the current language."""
    label = WEEKDAYS.get(day)
    return _(label) if label is not None else str(day)


STATUS_LABELS = {"short": N_("short"), "idle": N_("idle"), "balanced": N_("balanced"),
                 None: N_("no roster")}  # fmt: skip
# Gap colours: short in the flag red, idle in blue, balanced in pale green; the cell text (the
# gap itself) and its tooltip carry the figure, so colour is never the only signal.
SHORT_FILL, IDLE_FILL, BALANCED_FILL, NO_ROSTER_FILL = "#e07a72", "#8fb3de", "#e3f2e9", "#e8e8e8"


# --- Spark side: aggregates small enough to collect ------------------------------------------


def summarize_demand_trend(demand: DataFrame, *, by: str, min_group: int) -> DataFrame:
    """Per ``by`` (e.g. ``service_item`` or ``channel``) of ``demand`` rows: ``volume``,
    ``previous_volume``, ``trend = (volume - previous) / previous`` (null without a previous
    volume), ``small_n`` (both periods under ``min_group``) and the period's dates."""
    v, p = F.col("volume"), F.col("previous_volume")
    return (
        demand.groupBy(by)
        .agg(
            F.sum("volume").alias("volume"),
            F.sum("previous_volume").alias("previous_volume"),
            F.min("period_start").alias("period_start"),
            F.max("period_end").alias("period_end"),
        )
        .withColumn("trend", F.when(p > 0, (v - p) / p))
        .withColumn("small_n", (v < min_group) & (p < min_group))
    )


def summarize_forecast(forecast: DataFrame) -> DataFrame:
    """Per centre of ``demand_forecast``: the method used, the dates covered, and the expected
    counter arrivals over them by the chosen method, the seasonal baseline and the naive
    forecast."""
    return forecast.groupBy("center").agg(
        F.first("method").alias("method"),
        F.min("forecast_date").alias("first_date"),
        F.max("forecast_date").alias("last_date"),
        F.countDistinct("forecast_date").alias("n_days"),
        F.sum("forecast").alias("forecast"),
        F.sum("seasonal_baseline").alias("seasonal_baseline"),
        F.sum("naive_last_week").alias("naive_last_week"),
    )


# --- page context -----------------------------------------------------------------------------

PRIORITY_COLUMNS = [
    "rank", "service_item", "department", "n_applications", "n_citizens", "share_of_citizens",
    "most_affected_group", "group_share", "visits_per_application", "mean_wait_min",
    "mean_elapsed_days", "mean_satisfaction", "n_lagging_steps", "burden", "priority_score",
    "burden_rank", "small_n",
]  # fmt: skip
STAFFING_COLUMNS = [
    "center", "weekday", "hour", "n_days", "arrivals_per_hour", "mean_service_min",
    "mean_wait_min", "observed_within_target", "rostered_officials", "officials_needed",
    "servers_needed", "rostered_service_level", "gap", "status", "note",
    "note_message",
]  # fmt: skip
HOURS_COLUMNS = [
    "center", "weekday", "hour", "arrivals_per_hour", "n_arrivals", "officials_needed",
    "rostered_officials", "citizens_per_official", "rank", "is_peak", "edge", "proposal",
    "small_n",
]  # fmt: skip
GAP_COLUMNS = [
    "service_item", "age_band", "n_applications", "counter_share", "remote_share",
    "mostly_counter", "relies_on_counter", "small_n",
]  # fmt: skip
TREND_COLUMNS = ["volume", "previous_volume", "trend", "small_n", "period_start", "period_end"]
FORECAST_COLUMNS = ["center", "method", "first_date", "last_date", "n_days", "forecast",
                    "seasonal_baseline", "naive_last_week"]  # fmt: skip


def demand_section(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The demand stage's manifest section (``stage_results.demand``), or None."""
    section = (manifest.get("stage_results") or {}).get("demand")
    return section if isinstance(section, dict) else None


def demand_page(inp: ReportInputs, *, top: int = 25) -> dict[str, Any]:
    """Context of reports/demand.html; every part says whether its table was present."""
    section = demand_section(inp.manifest or {})
    ctx: dict[str, Any] = {
        "priorities": _priorities(inp.reform_priorities, top=top),
        "staffing": _staffing(inp.staffing_plan, section),
        "hours": _hours(inp.service_hours, section),
        "digital": _digital(inp.digital_gap),
        "forecast": _forecast(section, inp.demand_forecast_summary),
        "trend": _trend(inp.demand_by_item, inp.demand_by_channel, section),
    }
    ctx["available"] = any(v["available"] for v in ctx.values())
    return ctx


def _priorities(df: pd.DataFrame | None, *, top: int) -> dict[str, Any]:
    """The top items by priority score, the heaviest by burden whatever their volume, and
    every small item (ranked, flagged, never hidden)."""
    if df is None:
        return {"available": False}
    rows = sorted(records(df, PRIORITY_COLUMNS), key=lambda r: r["rank"] or 10**9)
    shown = rows[:top]
    shown_keys = {r["service_item"] for r in shown}
    heavy = sorted(rows, key=lambda r: r["burden_rank"] or 10**9)[:10]
    small = [r for r in rows if r["small_n"]]
    return {
        "available": True,
        "n_items": len(rows),
        "rows": shown,
        "heavy": heavy,
        "small": small,
        "small_outside_top": [r for r in small if r["service_item"] not in shown_keys],
        "chart": svg.bar_chart(
            [str(r["service_item"]) for r in shown[:15]],
            [r["priority_score"] for r in shown[:15]],
            title=_("Reform priority: applications x burden, top items"),
            unit=_("weighted applications"),
            highlight=[bool(r["small_n"]) for r in shown[:15]],
        ),
    }


def _gap_cell(r: dict[str, Any]) -> svg.Cell:
    gap, status = r["gap"], r["status"]
    fill = {"short": SHORT_FILL, "idle": IDLE_FILL, "balanced": BALANCED_FILL}.get(
        status, NO_ROSTER_FILL
    )
    text = "?" if gap is None else f"{gap:+.0f}" if abs(gap) >= 9.95 else f"{gap:+.1f}"
    tip = _(
        "%(center)s %(weekday)s %(hour)s — %(status)s: rostered %(rostered)s, needed "
        "%(needed)s (gap %(gap)s); %(arrivals)s arrivals per hour"
    ) % {
        "center": r["center"],
        "weekday": weekday(r["weekday"]),
        "hour": f"{r['hour']:02d}:00",
        "status": _(STATUS_LABELS[status]) if status in STATUS_LABELS else str(status),
        "rostered": fmt.fixed(r["rostered_officials"], 1),
        "needed": fmt.count(r["officials_needed"]),
        "gap": fmt.fixed(gap, 1),
        "arrivals": fmt.fixed(r["arrivals_per_hour"], 1),
    }
    return svg.Cell(text=text, fill=fill, tooltip=tip)


def _staffing(df: pd.DataFrame | None, section: dict[str, Any] | None) -> dict[str, Any]:
    """The heat map (rows centre · weekday, columns local hours, cells the gap), its short
    cells as a table (the text alternative) and per-centre totals."""
    if df is None:
        return {"available": False}
    stated = (section or {}).get("staffing")  # the manifest's staffing section
    said = stated or {}
    rows = records(df, STAFFING_COLUMNS)
    for r in rows:
        r["weekday_label"] = weekday(r["weekday"])
        r["key"] = f"{r['center']}|{r['weekday']}|{r['hour']}"
        r["note"] = i18n.sentence(r["note_message"], r["note"]) or None
    rows.sort(key=lambda r: (r["center"], r["weekday"], r["hour"]))
    hours = sorted({int(r["hour"]) for r in rows})
    lanes = sorted({(r["center"], r["weekday"]) for r in rows})
    label = {lane: f"{lane[0]} · {weekday(lane[1])}" for lane in lanes}
    cells = {(label[(r["center"], r["weekday"])], f"{r['hour']:02d}"): _gap_cell(r) for r in rows}
    counts = {s: sum(r["status"] == s for r in rows) for s in ("short", "idle", "balanced")}
    counts["no roster"] = sum(r["status"] is None for r in rows)
    short = sorted((r for r in rows if r["status"] == "short"), key=lambda r: r["gap"] or 0.0)
    centers = []
    for c in sorted({r["center"] for r in rows}):
        mine = [r for r in rows if r["center"] == c]
        centers.append(
            {
                "center": c,
                "n_cells": len(mine),
                "n_short": sum(r["status"] == "short" for r in mine),
                "n_idle": sum(r["status"] == "idle" for r in mine),
                "worst_gap": min((r["gap"] for r in mine if r["gap"] is not None), default=None),
                "weekday_gap": said.get("weekday_gap_by_center", {}).get(c),
            }
        )
    desc = _(
        "%(n)s centre-weekday-hours: %(short)s short, %(idle)s idle, %(balanced)s balanced, "
        "%(none)s without a roster. Each cell is rostered minus needed officials; red short, "
        "blue idle, green balanced, grey no roster. The short cells are listed in the table "
        "below."
    ) % {
        "n": len(rows),
        "short": counts["short"],
        "idle": counts["idle"],
        "balanced": counts["balanced"],
        "none": counts["no roster"],
    }
    return {
        "available": True,
        "n_cells": len(rows),
        "counts": counts,
        "short": short,
        "centers": centers,
        "manifest": stated,
        # the service target in the page's language (a manifest without its message: as stored)
        "target": i18n.sentence(said.get("target_message"), said.get("target")) or None,
        "chart": svg.heat_matrix(
            [label[lane] for lane in lanes],
            [f"{h:02d}" for h in hours],
            cells,
            title=_("Staffing gap per centre, weekday and hour (rostered minus needed officials)"),
            desc=desc,
            cell=30,
        ),
    }


def _hours(df: pd.DataFrame | None, section: dict[str, Any] | None) -> dict[str, Any]:
    """Each centre's peak hours and the opening-hour proposals (extend / close)."""
    if df is None:
        return {"available": False}
    rows = records(df, HOURS_COLUMNS)
    for r in rows:
        r["weekday_label"] = weekday(r["weekday"])
        r["key"] = f"{r['center']}|{r['weekday']}|{r['hour']}"
    peaks: dict[str, set[int]] = {}
    for r in rows:
        if r["is_peak"]:
            peaks.setdefault(r["center"], set()).add(int(r["hour"]))
    centers = sorted({r["center"] for r in rows})
    proposals = sorted(
        (r for r in rows if r["proposal"] not in (None, "keep")),
        key=lambda r: (r["center"], r["weekday"], r["hour"]),
    )
    return {
        "available": True,
        "peaks": [
            {"center": c, "hours": ", ".join(f"{h:02d}:00" for h in sorted(peaks.get(c, ())))}
            for c in centers
        ],
        "proposals": proposals,
        "n_edges": sum(r["edge"] is not None for r in rows),
        "n_small_edges": sum(r["edge"] is not None and bool(r["small_n"]) for r in rows),
    }


def _digital(df: pd.DataFrame | None) -> dict[str, Any]:
    """Counter share of online-capable items by age band: a heat matrix and the table."""
    if df is None:
        return {"available": False}
    rows = records(df, GAP_COLUMNS)
    bands = sorted({r["age_band"] for r in rows if r["age_band"] != "all"})
    if any(r["age_band"] == "all" for r in rows):
        bands.append("all")
    order = {b: i for i, b in enumerate(bands)}
    items = sorted({r["service_item"] for r in rows})
    rows.sort(key=lambda r: (r["service_item"], order.get(r["age_band"], 99)))
    for r in rows:
        r["key"] = f"{r['service_item']}|{r['age_band']}"
    cells = {}
    for r in rows:
        share = float(r["counter_share"] or 0.0)
        tip = (
            _(
                "%(item)s, %(band)s: %(counter)s at counters, %(remote)s online or mobile, "
                "%(n)s applications"
            )
            % {
                "item": r["service_item"],
                "band": i18n.word(r["age_band"]),
                "counter": fmt.percent(share),
                "remote": fmt.percent(r["remote_share"]),
                "n": fmt.count(r["n_applications"]),
            }
            + (_(" (small group: read with care)") if r["small_n"] else "")
            + (_("; relies on the counter") if r["relies_on_counter"] else "")
        )
        text = f"{100 * share:.0f}" + ("*" if r["small_n"] else "")
        fill = _blend("#f4f8fc", "#b4562f", share) if not r["small_n"] else "#e8e8e8"
        cells[(r["service_item"], r["age_band"])] = svg.Cell(text=text, fill=fill, tooltip=tip)
    return {
        "available": True,
        "rows": rows,
        "items": items,
        "bands": bands,
        "mostly_counter": sorted(
            {r["service_item"] for r in rows if r["age_band"] == "all" and r["mostly_counter"]}
        ),
        "relies": [r for r in rows if r["relies_on_counter"]],
        "chart": svg.heat_matrix(
            items,
            [i18n.word(b) for b in bands],
            {(k[0], i18n.word(k[1])): v for k, v in cells.items()},
            title=_("Share of applications first brought to a counter, by age band (%)"),
            desc=_(
                "%(items)s online-capable items x %(bands)s age bands; darker = more "
                "counter-bound; grey with * = small group (read with care). Figures in the table "
                "below."
            )
            % {"items": len(items), "bands": len(bands)},
        ),
    }


def _blend(a: str, b: str, t: float) -> str:
    t = min(max(t, 0.0), 1.0)
    ca = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))


def _forecast(section: dict[str, Any] | None, summary: pd.DataFrame | None) -> dict[str, Any]:
    """Held-out errors of the model, the seasonal baseline and the naive forecast (manifest),
    the method chosen per centre, and what each centre is expected to see (table)."""
    fc = (section or {}).get("forecast")
    out: dict[str, Any] = {"available": isinstance(fc, dict) or summary is not None}
    if isinstance(fc, dict):
        errors = fc.get("errors") or {}
        out["errors"] = [
            {
                "method": m,
                "label": METHOD_LABELS.get(m, m),
                **{k: (errors.get(m) or {}).get(k) for k in ("mae", "rmse", "wape")},
            }
            for m in ("model", "seasonal_baseline", "naive_last_week")
            if m in errors
        ]
        judged = [e for e in out["errors"] if e["mae"] is not None]
        out["best"] = min(judged, key=lambda e: e["mae"])["method"] if judged else None
        by_center = fc.get("errors_by_center") or {}
        methods = fc.get("methods") or {}
        out["centers"] = [
            {
                "center": c,
                "method": methods.get(c),
                **{m: (by_center.get(c) or {}).get(m) for m in METHOD_LABELS},
            }
            for c in sorted(set(methods) | set(by_center))
        ]
        out["note"] = i18n.sentence(fc.get("note_message"), fc.get("note")) or None
        out["history_days"] = fc.get("history_days")
        out["holdout_days"] = fc.get("holdout_days")
        out["holdout_start"] = fc.get("holdout_start")
        out["judged"] = bool(out["errors"])
    else:
        out.update(errors=[], centers=[], note=None, judged=False, best=None)
    out["summary"] = (
        sorted(records(summary, FORECAST_COLUMNS), key=lambda r: r["center"])
        if summary is not None
        else None
    )
    return out


def _trend(
    by_item: pd.DataFrame | None, by_channel: pd.DataFrame | None, section: dict[str, Any] | None
) -> dict[str, Any]:
    """Volume now against the previous period, per service item and per channel."""
    if by_item is None:
        return {"available": False}

    def rows(df: pd.DataFrame | None, key: str) -> list[dict[str, Any]]:
        if df is None:
            return []
        out = records(df, [key, *TREND_COLUMNS])
        for r in out:
            r["key"] = r[key]
        return sorted(out, key=lambda r: (-(r["volume"] or 0), str(r["key"])))

    items = rows(by_item, "service_item")
    period = (section or {}).get("demand") or {}
    return {
        "available": True,
        "items": items,
        "channels": rows(by_channel, "channel"),
        "period_start": period.get("period_start") or (items[0]["period_start"] if items else None),
        "period_end": period.get("period_end") or (items[0]["period_end"] if items else None),
        "previous_days": period.get("previous_period_days_with_data"),
        "period_days": _period_days(items),
    }


def _period_days(items: list[dict[str, Any]]) -> int | None:
    if not items or items[0]["period_start"] is None or items[0]["period_end"] is None:
        return None
    a, b = pd.Timestamp(items[0]["period_start"]), pd.Timestamp(items[0]["period_end"])
    return int((b - a).days) + 1
