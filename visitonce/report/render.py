"""Render the report site: page contexts (visitonce.report.model) through the Jinja2 templates
shipped with the package into self-contained HTML strings (inline CSS and SVG, no request to
anywhere). Returns file name -> HTML; the stage writes them."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from visitonce.report import demand as demand_model
from visitonce.report import fmt, model
from visitonce.report.model import ReportInputs

PAGES = {
    "index.html": "Overview",
    "bundles.html": "Bundles",
    "lagging.html": "Lagging steps",
    "alerts.html": "Alerts",
    "scorecards.html": "Scorecards",
    "demand.html": "Demand and staffing",
    "method.html": "Method",
}


def failures(manifest: dict[str, Any]) -> dict[str, str]:
    """Stage -> one-line error of the stages that failed in the run the manifest describes."""
    from visitonce.pipeline import stage_failed

    out = {}
    for name, section in (manifest.get("stage_results") or {}).items():
        error = stage_failed(section)
        if error:
            out[name] = error
    return out


def environment(*, failed: dict[str, str] | None = None) -> Environment:
    env = Environment(
        loader=PackageLoader("visitonce.report", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(fmt.FILTERS)
    env.globals["NOT_COMPUTED"] = model.NOT_COMPUTED
    env.globals["PAGES"] = PAGES
    env.globals["show"] = lambda value, kind: fmt.FILTERS[kind](value)
    # why a page's table is absent: its stage failed in this run, or it was not run
    failed = failed or {}
    env.globals["absence"] = lambda stage=None: (
        f"failed: {failed[stage]}" if stage in failed else model.NOT_COMPUTED
    )
    return env


def department_file(slug: str) -> str:
    return f"department-{slug}.html"


def render_site(inp: ReportInputs) -> dict[str, str]:
    """Every page of the report, keyed by file name (relative to reports/)."""
    m = inp.manifest or {}
    env = environment(failed=failures(m))
    tz = inp.time_zone
    common: dict[str, Any] = {
        "run": {
            "run_id": m.get("run_id"),
            "as_of": m.get("as_of"),
            "finished_at": m.get("finished_at"),
            "config_hash": m.get("config_hash"),
            "versions": m.get("versions") or {},
            "source_mapping": m.get("source_mapping"),
        },
        "tz": tz,
        "ts": lambda v: fmt.timestamp(v, time_zone=tz),
        "department_file": department_file,
        "exports": list(inp.exports),
    }
    bundles = model.bundles_page(inp)
    lagging = model.lagging_page(inp)
    alerts = model.alerts_page(inp)
    scorecards = model.scorecards_page(inp)
    departments = model.department_pages(inp)
    demand = demand_model.demand_page(inp)
    pages = {
        "bundles.html": env.get_template("bundles.html").render(
            page="bundles.html", title="Bundles", b=bundles, **common
        ),
        "lagging.html": env.get_template("lagging.html").render(
            page="lagging.html", title="Lagging steps", g=lagging, **common
        ),
        "alerts.html": env.get_template("alerts.html").render(
            page="alerts.html", title="Alerts", a=alerts, **common
        ),
        "scorecards.html": env.get_template("scorecards.html").render(
            page="scorecards.html", title="Scorecards", s=scorecards, departments=departments,
            **common,
        ),
        "demand.html": env.get_template("demand.html").render(
            page="demand.html", title="Demand and staffing", d=demand, **common
        ),
        "method.html": env.get_template("method.html").render(
            page="method.html", title="Method", manifest=m,
            config_json=json.dumps(m.get("config") or {}, indent=2, ensure_ascii=False),
            **common,
        ),
    }  # fmt: skip
    for d in departments:
        pages[department_file(d["slug"])] = env.get_template("department.html").render(
            page="scorecards.html", title=f"Scorecard: {d['department']}", d=d, **common
        )
    pages["index.html"] = env.get_template("index.html").render(
        page="index.html",
        title="Overview",
        manifest=m,
        b=bundles,
        g=lagging,
        a=alerts,
        s=scorecards,
        n_departments=len(departments),
        d=demand,
        **common,
    )
    return pages
