"""Page contexts: small pandas tables (already collected by the stage) in, plain dicts out.

Nothing here reads or writes; every function tolerates a missing table (None) and missing
optional columns, because a run may skip stages and the scorecard tables may still change
shape. A page whose table is absent says "not computed in this run" instead of failing.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from visitonce.report import fmt, i18n, svg
from visitonce.report.i18n import N_, _

NOT_COMPUTED = N_("not computed in this run")
FUNNEL = ("much_better", "better", "within", "worse", "much_worse")


@dataclass
class ReportInputs:
    """What the report is drawn from: each table as a small pandas frame, or None if absent."""

    manifest: dict[str, Any] = field(default_factory=dict)
    bundles: pd.DataFrame | None = None
    bundle_changes: pd.DataFrame | None = None
    item_associations: pd.DataFrame | None = None
    lagging_steps: pd.DataFrame | None = None
    step_transitions: pd.DataFrame | None = None
    alerts: pd.DataFrame | None = None
    scorecards: pd.DataFrame | None = None
    scorecard_kpis: pd.DataFrame | None = None
    scorecard_equity: pd.DataFrame | None = None
    scorecard_explanations: pd.DataFrame | None = None
    catalog: pd.DataFrame | None = None
    # demand page (visitonce.report.demand): the plan tables, and the demand and forecast
    # tables already aggregated by the stage (per item, per channel, per centre)
    reform_priorities: pd.DataFrame | None = None
    staffing_plan: pd.DataFrame | None = None
    service_hours: pd.DataFrame | None = None
    digital_gap: pd.DataFrame | None = None
    demand_by_item: pd.DataFrame | None = None
    demand_by_channel: pd.DataFrame | None = None
    demand_forecast_summary: pd.DataFrame | None = None
    time_zone: str = "Asia/Shanghai"
    top_bundles: int = 200
    matrix_items: int = 20
    min_effect: float = 2.0
    # export files that will sit in reports/exports/ (pages link only to these)
    exports: list[str] = field(default_factory=list)
    # language of the pages (reports.language): en or zh-CN (visitonce.report.i18n)
    language: str = "en"


def present(df: pd.DataFrame | None) -> bool:
    return df is not None


def col(df: pd.DataFrame, name: str, default: Any = None) -> pd.Series:
    """A column, or a column of ``default`` when the table does not have it."""
    if name in df.columns:
        return df[name]
    return pd.Series([default] * len(df), index=df.index, dtype=object)


def records(df: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Rows as dicts with every named column (missing ones as None), NaN as None."""
    out = []
    for row in pd.DataFrame({c: col(df, c) for c in columns}).to_dict("records"):
        out.append({k: _plain(v) for k, v in row.items()})
    return out


def _plain(v: Any) -> Any:
    """Arrays (as Arrow gives them) to lists; NaN / NA to None."""
    if isinstance(v, (np.ndarray, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return v
    return None if fmt.is_missing(v) else v


def slug(text: str) -> str:
    """A file-name-safe, stable, unique name for a department (any script)."""
    ascii_part = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:30]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{ascii_part}-{digest}" if ascii_part else digest


# --- bundles ----------------------------------------------------------------------------------


def bundles_page(inp: ReportInputs) -> dict[str, Any]:
    """Ranked bundles (visits saved, then lift), changes since the previous period, and the
    item co-occurrence matrix of the citizen scope for everyone."""
    ctx: dict[str, Any] = {"available": present(inp.bundles)}
    # a scope with no baskets says why (e.g. no citizen_id in anonymous 311 reports)
    scopes = ((inp.manifest or {}).get("stage_results") or {}).get("bundles") or {}
    ctx["unavailable"] = [
        s["unavailable"]
        for s in (scopes.get("scopes") or {}).values()
        if isinstance(s, dict) and s.get("unavailable")
    ]
    if inp.bundles is None:
        return ctx
    b = inp.bundles.copy()
    b["_seg"] = col(b, "segment").fillna("everyone")
    b = b.sort_values(
        ["visits_saved", "lift", "n_transactions"], ascending=False, kind="mergesort"
    ).head(inp.top_bundles)
    rows = records(
        b,
        [
            "bundle_id", "scope", "segment", "items", "departments", "n_transactions",
            "support", "lift", "confidence", "q_value", "visits_saved", "typical_order",
            "median_span_days", "cross_department", "period_start", "period_end",
        ],
    )  # fmt: skip
    for i, r in enumerate(rows, start=1):
        r["rank"] = i
        r["segment_label"] = r["segment"] or "everyone"
    ctx["rows"] = rows
    ctx["n_total"] = len(inp.bundles)
    ctx["scopes"] = sorted({r["scope"] for r in rows if r["scope"]})
    ctx["segments"] = sorted({r["segment_label"] for r in rows})
    ctx["period_start"] = rows[0]["period_start"] if rows else None
    ctx["period_end"] = rows[0]["period_end"] if rows else None
    ctx["visits_saved_total"] = int(pd.to_numeric(col(b, "visits_saved"), "coerce").sum())
    top = rows[:15]
    if ctx["visits_saved_total"] > 0:
        ctx["chart_caption"] = _("Visits saved of the top bundles (values in the table below).")
        ctx["chart"] = svg.bar_chart(
            [" + ".join(r["items"] or []) for r in top],
            [float(r["visits_saved"] or 0) for r in top],
            title=_("Visits citizens would have saved, top bundles"),
            unit=_("visits"),
        )
    else:  # e.g. place bundles of online reports: no trip to save, show how strong they are
        ctx["chart_caption"] = _("Lift of the top bundles (values in the table below).")
        ctx["chart"] = svg.bar_chart(
            [" + ".join(r["items"] or []) for r in top],
            [r["lift"] for r in top],
            title=_("Lift of the top bundles (no visits to save in this period)"),
            unit=_("× expected"),
            reference=1.0,
            reference_label=_("independent"),
        )
    ctx["changes"] = _changes(inp.bundle_changes)
    ctx["matrix"] = _matrix(inp.item_associations, n_items=inp.matrix_items)
    return ctx


def _changes(df: pd.DataFrame | None) -> dict[str, Any]:
    if df is None:
        return {"available": False}
    counts = col(df, "change").value_counts().to_dict()
    moved = df[col(df, "change") != "steady"]
    moved = moved.assign(
        _o=col(moved, "change")
        .map({"new": 0, "strengthened": 1, "weakened": 2, "dropped": 3})
        .fillna(9),
        _n=pd.to_numeric(col(moved, "n_now"), errors="coerce"),
    ).sort_values(["_o", "_n"], ascending=[True, False], kind="mergesort")
    return {
        "available": True,
        "counts": {k: int(counts.get(k, 0)) for k in
                   ("new", "strengthened", "weakened", "dropped", "steady")},
        "compared_with": next(
            (v for v in col(df, "period_end_before") if not fmt.is_missing(v)), None
        ),
        "rows": records(moved, ["scope", "segment", "items", "change", "n_before", "n_now",
                                "support_before", "support_now", "lift_before", "lift_now"]),
    }  # fmt: skip


def _matrix(df: pd.DataFrame | None, *, n_items: int) -> dict[str, Any]:
    if df is None:
        return {"available": False}
    scope = "citizen"
    a = df[(col(df, "scope") == scope) & col(df, "segment").isna()]
    if a.empty:  # no citizen baskets (e.g. anonymous 311 reports): the place scope
        scope = "place"
        a = df[(col(df, "scope") == scope) & col(df, "segment").isna()]
    counts: dict[str, int] = {}
    for item, n in list(zip(a["item_a"], a["n_a"], strict=True)) + list(
        zip(a["item_b"], a["n_b"], strict=True)
    ):
        counts[item] = max(counts.get(item, 0), int(n))
    items = sorted(counts, key=lambda i: (-counts[i], i))[:n_items]
    items = sorted(items)
    cells: dict[tuple[str, str], svg.Cell] = {}
    keep = set(items)
    for r in records(a, ["item_a", "item_b", "lift", "n_ab", "q_value", "significant"]):
        if r["item_a"] not in keep or r["item_b"] not in keep:
            continue
        lift = float(r["lift"] or 0.0)
        strength = min(math.log(max(lift, 1.0)) / math.log(20.0), 1.0)
        fill = _blend("#eef3fa", "#1f4f8f", strength) if r["significant"] else "#e8e8e8"
        tip = _("%(a)s & %(b)s: lift %(lift)s, %(n)s baskets, q %(q)s") % {
            "a": r["item_a"],
            "b": r["item_b"],
            "lift": fmt.fixed(lift),
            "n": fmt.count(r["n_ab"]),
            "q": fmt.pvalue(r["q_value"]),
        } + ("" if r["significant"] else _(" (not significant)"))
        text_ = f"{lift:.0f}" if lift >= 10 else f"{lift:.1f}"
        for key in ((r["item_a"], r["item_b"]), (r["item_b"], r["item_a"])):
            cells[key] = svg.Cell(text=text_, fill=fill, tooltip=tip)
    return {
        "available": True,
        "n_pairs": len(a),
        "scope": scope,
        "chart": svg.heat_matrix(
            items, items, cells,
            title=_("Item co-occurrence (lift), %(scope)s scope, everyone")
            % {"scope": i18n.word(scope)},
            desc=_("%(n)s most requested items; darker = higher lift; grey = not significant; "
                   "blank = not a frequent pair") % {"n": len(items)},
        ),
    }  # fmt: skip


def _blend(a: str, b: str, t: float) -> str:
    ca = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))


# --- lagging steps ----------------------------------------------------------------------------

LAGGING_COLUMNS = [
    "service_item", "step", "kind", "setting", "department", "n", "n_censored", "observed_s",
    "observed_lo_s", "observed_hi_s", "expected_s", "excess_ratio", "excess_s", "raw_observed_s",
    "workload_ratio", "q_value", "flagged", "status", "basis", "comparison", "place",
    "reference", "reference_message",
]  # fmt: skip


def comparison_words(r: dict[str, Any]) -> str:
    """A flag's comparison in words, e.g. "accept waiting at C04: 36.0 min against 12.0 min at
    the other 4 centres, same item, same weeks"."""
    v = {
        "what": f"{r['step']} {i18n.word(r['kind'])}",
        "obs": fmt.duration(r["observed_s"]),
        "exp": fmt.duration(r["expected_s"]),
        "place": r.get("place"),
        "ref": i18n.sentence(r.get("reference_message"), r.get("reference"))
        or _("comparable steps"),
        "basis": _(" (calendar time)") if r.get("basis") == "calendar" else _(" (working time)"),
    }
    comparison = r.get("comparison")
    if comparison == "places":
        return (
            _("%(what)s at %(place)s: %(obs)s against %(exp)s at %(ref)s, same item, same weeks")
            % v
        )
    if comparison == "history":
        return _("%(what)s: %(obs)s against %(exp)s over %(ref)s, same item%(basis)s") % v
    if comparison == "rule":
        return _("%(what)s: %(obs)s for this step alone against the %(ref)s") % v
    if comparison == "peers":
        return (
            _("%(what)s: %(obs)s against %(exp)s expected from %(ref)s%(basis)s; weakest basis") % v
        )
    return _("%(what)s: %(obs)s, no comparison possible") % v


def lagging_page(inp: ReportInputs) -> dict[str, Any]:
    """Per service item, its steps with observed against expected durations; flagged first;
    item-steps with insufficient data listed as such (never hidden)."""
    ctx: dict[str, Any] = {"available": present(inp.lagging_steps)}
    if inp.lagging_steps is None:
        return ctx
    df = inp.lagging_steps
    rows = records(df, LAGGING_COLUMNS)
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r["status"] or "unknown"] = by_status.get(r["status"] or "unknown", 0) + 1
    ctx["by_status"] = dict(sorted(by_status.items()))
    for r in rows:
        r["comparison_text"] = comparison_words(r) if r["flagged"] else None
    flagged = sorted((r for r in rows if r["flagged"]), key=lambda r: -(r["excess_ratio"] or 0.0))
    ctx["flagged"] = flagged
    ctx["insufficient"] = sorted(
        (r for r in rows if r["status"] == "insufficient_data"),
        key=lambda r: (r["service_item"], r["step"], r["kind"]),
    )
    ctx["chart"] = svg.bar_chart(
        [f"{r['service_item']} · {r['step']} ({i18n.word(r['kind'])})" for r in flagged[:25]],
        [r["excess_ratio"] for r in flagged[:25]],
        title=_("Lagging steps: observed over expected duration"),
        unit=_("× expected"),
        highlight=[True] * len(flagged[:25]),
        reference=inp.min_effect,
        reference_label=_("flag threshold %(x)s×") % {"x": f"{inp.min_effect:g}"},
    )
    names = item_names(inp.catalog)
    transitions = _transitions(inp.step_transitions)
    items: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["status"] == "insufficient_data":
            continue
        items.setdefault(r["service_item"], []).append(r)
    order = sorted(
        items,
        key=lambda i: (
            -sum(bool(r["flagged"]) for r in items[i]),
            -max((r["excess_ratio"] or 0.0) for r in items[i]),
            i,
        ),
    )
    ctx["items"] = [
        {
            "service_item": i,
            "name": names.get(i),
            "n_flagged": sum(bool(r["flagged"]) for r in items[i]),
            "steps": sorted(items[i], key=lambda r: (not r["flagged"], r["step"], r["kind"])),
            "transitions": transitions.get(i, []),
        }
        for i in order
    ]
    return ctx


def item_names(catalog: pd.DataFrame | None) -> dict[str, str]:
    if catalog is None or "item_name" not in catalog.columns:
        return {}
    return {
        str(k): str(v)
        for k, v in zip(catalog["service_item"], catalog["item_name"], strict=True)
        if not fmt.is_missing(v) and str(v) != str(k)  # a derived catalog repeats the code
    }


def _transitions(df: pd.DataFrame | None, top: int = 3) -> dict[str, list[dict[str, Any]]]:
    if df is None:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    cols = ["service_item", "from_step", "to_step", "n", "median_s", "p90_s", "share_of_item",
            "rank_in_item"]  # fmt: skip
    for r in sorted(records(df, cols), key=lambda r: (r["service_item"], r["rank_in_item"] or 0)):
        lst = out.setdefault(r["service_item"], [])
        if len(lst) < top:
            lst.append(r)
    return out


# --- alerts -----------------------------------------------------------------------------------

ALERT_COLUMNS = [
    "alert_id", "window_start", "window_end", "center", "channel", "department", "metric",
    "direction", "value", "expected", "score", "n_windows", "proposals", "metrics",
    "officials_on_duty", "proposal_messages",
]  # fmt: skip


def lane(center: Any, channel: Any) -> str:
    return " · ".join(
        (center or _("(no centre)"), i18n.word(channel) if channel else _("(any channel)"))
    )


def alerts_page(inp: ReportInputs) -> dict[str, Any]:
    """A timeline per centre and channel, and each alert with its proposals."""
    ctx: dict[str, Any] = {"available": present(inp.alerts)}
    if inp.alerts is None:
        return ctx
    rows = records(inp.alerts, ALERT_COLUMNS)
    rows.sort(key=lambda r: (lane(r["center"], r["channel"]), r["window_start"]))
    for r in rows:
        r["lane"] = lane(r["center"], r["channel"])
        said = r["proposal_messages"] or []
        r["proposals"] = [
            i18n.sentence(said[j] if j < len(said) else None, p)
            for j, p in enumerate(r["proposals"] if r["proposals"] is not None else [])
        ]
    ctx["rows"] = rows
    lanes = sorted({r["lane"] for r in rows})
    ctx["lanes"] = [{"lane": x, "rows": [r for r in rows if r["lane"] == x]} for x in lanes]
    if rows:
        t0 = min(pd.Timestamp(r["window_start"]) for r in rows)
        t1 = max(pd.Timestamp(r["window_end"]) for r in rows)
        span = max((t1 - t0).total_seconds(), 1.0)
        top = max(float(r["score"] or 0.0) for r in rows) or 1.0
        marks = [
            (
                r["lane"],
                (pd.Timestamp(r["window_start"]) - t0).total_seconds() / span,
                (pd.Timestamp(r["window_end"]) - t0).total_seconds() / span,
                float(r["score"] or 0.0) / top,
                _(
                    "%(at)s: %(metric)s %(direction)s (value %(value)s, expected %(expected)s, "
                    "score %(score)s)"
                )
                % {
                    "at": fmt.timestamp(r["window_start"], time_zone=inp.time_zone),
                    "metric": r["metric"],
                    "direction": i18n.word(r["direction"]) if r["direction"] else "",
                    "value": fmt.fixed(r["value"]),
                    "expected": fmt.fixed(r["expected"]),
                    "score": fmt.fixed(r["score"], 1),
                },
            )
            for r in rows
        ]
        ctx["chart"] = svg.timeline(
            lanes, marks,
            title=_("Alerts over time, per centre and channel"),
            start_label=fmt.timestamp(t0, time_zone=inp.time_zone),
            end_label=fmt.timestamp(t1, time_zone=inp.time_zone),
        )  # fmt: skip
    else:
        ctx["chart"] = svg.empty(_("Alerts over time"), _("no alerts in this run"))
    return ctx


# --- scorecards -------------------------------------------------------------------------------

SCORE_COLUMNS = [
    "period", "department", "n_applications", "score", "score_lo", "score_hi", "band",
    "band_probability", "rank", "rank_lo", "rank_hi", "config_hash", "method_version",
    "n_kpis_scored", "unavailable_kpis", "gate",
]  # fmt: skip
KPI_COLUMNS = [
    "period", "department", "kpi", "numerator", "denominator", "observed", "expected",
    "adjusted", "shrunk", "lo", "hi", "funnel_status", "available",
]  # fmt: skip


def monthly(df: pd.DataFrame | None) -> pd.DataFrame | None:
    """The monthly rows of a scorecard table (quarters and years are roll-ups of the same
    applications, kept in the exports); the whole table when it has no ``grain``."""
    if df is None or "grain" not in df.columns:
        return df
    month = df[df["grain"].astype(str) == "month"]
    return month if not month.empty else df


def latest_period(df: pd.DataFrame | None) -> str | None:
    df = monthly(df)
    if df is None or df.empty or "period" not in df.columns:
        return None
    return str(max(str(p) for p in df["period"]))


def _equity_rows(df: pd.DataFrame | None) -> pd.DataFrame | None:
    """Equity rows with the page's names: ``n`` (applications) and ``value`` (observed)."""
    df = monthly(df)
    if df is None:
        return None
    out = df.copy()
    if "n" not in out.columns and "n_applications" in out.columns:
        out["n"] = out["n_applications"]
    if "value" not in out.columns and "observed" in out.columns:
        out["value"] = out["observed"]
    return out


def scorecards_page(inp: ReportInputs) -> dict[str, Any]:
    """The office view for the latest period: department x KPI heat map coloured by funnel
    status, score and rank intervals as caterpillar plots, and the league table."""
    ctx: dict[str, Any] = {"available": present(inp.scorecards)}
    if inp.scorecards is None:
        return ctx
    period = latest_period(inp.scorecards)
    ctx["period"] = period
    sc = inp.scorecards[col(inp.scorecards, "period").astype(str) == period]
    rows = records(sc, SCORE_COLUMNS)
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["department"]))
    for r in rows:
        r["slug"] = slug(str(r["department"]))
        r["note"] = _no_score_note(r)
    ctx["rows"] = rows
    ctx["periods"] = sorted({str(p) for p in col(inp.scorecards, "period")})
    ctx["unavailable_kpis"] = sorted({k for r in rows for k in (r["unavailable_kpis"] or [])})
    by_score = sorted(rows, key=lambda r: (r["score"] is None, -(r["score"] or 0.0)))
    ctx["score_chart"] = svg.caterpillar(
        [(r["department"], r["score"], r["score_lo"], r["score_hi"]) for r in by_score],
        title=_("Score with its interval, %(period)s") % {"period": period},
        lo=0,
        hi=100,
    )
    n = len(rows)
    ranked = [r for r in rows if r["rank"] is not None]
    ctx["rank_chart"] = svg.caterpillar(
        [(r["department"], r["rank"], r["rank_lo"], r["rank_hi"]) for r in ranked],
        title=_("Rank with its interval (1 = best), %(period)s") % {"period": period},
        lo=1,
        hi=max(n, 2),
    )
    ctx["heat"] = _kpi_heat(inp.scorecard_kpis, period=period)
    return ctx


def _no_score_note(row: dict[str, Any]) -> str | None:
    """Why a listed department has no score, in the page's language: too few applications, or
    too few KPIs with data (the stage's evidence minimum, whose gate text says which)."""
    if row["score"] is not None:
        return None
    if "KPIs with data" in str(row["gate"] or ""):
        return _("too few KPIs with data (%(k)s): no score") % {
            "k": fmt.count(row["n_kpis_scored"])
        }
    return _("too few cases (%(n)s applications): no score") % {
        "n": fmt.count(row["n_applications"])
    }


def _kpi_rows(df: pd.DataFrame | None, *, period: str | None) -> list[dict[str, Any]]:
    df = monthly(df)
    if df is None or period is None:
        return []
    return records(df[col(df, "period").astype(str) == period], KPI_COLUMNS)


def _kpi_heat(df: pd.DataFrame | None, *, period: str | None) -> dict[str, Any]:
    if df is None:
        return {"available": False}
    rows = _kpi_rows(df, period=period)
    depts = sorted({str(r["department"]) for r in rows})
    kpis = sorted({str(r["kpi"]) for r in rows})
    cells = {}
    for r in rows:
        usable = r["available"] is not False and r["funnel_status"] in FUNNEL
        value = r["shrunk"] if r["shrunk"] is not None else r["adjusted"]
        status = r["funnel_status"] if usable else None
        cells[(str(r["department"]), str(r["kpi"]))] = svg.Cell(
            text=_short_value(value) if usable else _("n/a"),
            fill=svg.STATUS_COLOURS[status],
            tooltip=_("%(department)s · %(kpi)s: %(value)s (expected %(expected)s; %(status)s)")
            % {
                "department": r["department"],
                "kpi": r["kpi"],
                "value": _short_value(value),
                "expected": _short_value(r["expected"]),
                "status": i18n.word(status) if status else _("not available"),
            },
        )
    return {
        "available": True,
        "chart": svg.heat_matrix(
            depts, kpis, cells, cell=46,
            title=_("KPIs by department, %(period)s: funnel status") % {"period": period},
            desc=_("blue = better than expected (dark: beyond the outer limits), pale = within "
                   "the limits, orange = worse (red: beyond the outer limits), grey = not "
                   "available; limits widened for over-dispersion; the value shown is the "
                   "shrunk KPI"),
        ),
    }  # fmt: skip


def _short_value(v: Any) -> str:
    if fmt.is_missing(v):
        return fmt.MISSING
    x = float(v)
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.2g}" if abs(x) < 1 else f"{x:.1f}"


def department_pages(inp: ReportInputs) -> list[dict[str, Any]]:
    """One context per department of the latest period: band and its probability, pillars
    (KPIs) against their expected values, drivers, equity panel and score trend."""
    if inp.scorecards is None:
        return []
    period = latest_period(inp.scorecards)
    all_rows = records(monthly(inp.scorecards), SCORE_COLUMNS)
    kpis = _kpi_rows(inp.scorecard_kpis, period=period)
    out = []
    for r in [x for x in all_rows if str(x["period"]) == period]:
        dept = r["department"]
        history = sorted(
            (x for x in all_rows if x["department"] == dept), key=lambda x: str(x["period"])
        )
        mine = sorted((k for k in kpis if k["department"] == dept), key=lambda k: str(k["kpi"]))
        ratios = [
            (k["shrunk"] if k["shrunk"] is not None else k["adjusted"]) / k["expected"]
            if k["expected"] and (k["shrunk"] is not None or k["adjusted"] is not None)
            else None
            for k in mine
        ]
        out.append(
            {
                "department": dept,
                "slug": slug(str(dept)),
                "period": period,
                "row": r,
                "kpis": mine,
                "kpis_available": inp.scorecard_kpis is not None,
                "pillar_chart": svg.bar_chart(
                    [str(k["kpi"]) for k in mine],
                    ratios,
                    title=_("%(department)s: KPIs against their expected values (ratio)")
                    % {"department": dept},
                    unit=_("× expected"),
                    highlight=[k["funnel_status"] in ("worse", "much_worse") for k in mine],
                    reference=1.0,
                    reference_label=_("expected"),
                ),
                "explanations": [
                    {**e, "text": i18n.sentence(e["message"], e["text"])}
                    for e in _dept_rows(
                        monthly(inp.scorecard_explanations), dept, period,
                        ["kind", "text", "value", "message"],
                    )
                ],
                "explanations_available": inp.scorecard_explanations is not None,
                "equity": _dept_rows(
                    _equity_rows(inp.scorecard_equity), dept, period,
                    ["kpi", "dimension", "group", "n", "value", "gap", "small_group"],
                ),
                "equity_available": inp.scorecard_equity is not None,
                "trend": svg.line_chart(
                    [str(x["period"]) for x in history],
                    [x["score"] for x in history],
                    title=_("%(department)s: score over periods") % {"department": dept},
                ),
            }
        )  # fmt: skip
    return out


def _dept_rows(
    df: pd.DataFrame | None, dept: Any, period: str | None, columns: list[str]
) -> list[dict[str, Any]]:
    if df is None:
        return []
    mask = col(df, "department") == dept
    if "period" in df.columns:
        mask &= df["period"].astype(str) == period
    return records(df[mask], columns)
