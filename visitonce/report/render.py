"""Render the report site: page contexts (visitonce.report.model) through the Jinja2 templates
shipped with the package into self-contained HTML strings (inline CSS and SVG, no request to
anywhere). Returns file name -> HTML; the stage writes them."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from visitonce.report import demand as demand_model
from visitonce.report import fmt, i18n, model
from visitonce.report.i18n import N_, _
from visitonce.report.model import ReportInputs

PAGES = {
    "index.html": N_("Overview"),
    "bundles.html": N_("Bundles"),
    "lagging.html": N_("Lagging steps"),
    "alerts.html": N_("Alerts"),
    "scorecards.html": N_("Scorecards"),
    "demand.html": N_("Demand and staffing"),
    "method.html": N_("Method"),
}


def failures(manifest: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Stage -> ("failed", error) / ("skipped", reason) for the stages of the run the manifest
    describes whose tables are not to be shown."""
    from visitonce.context import stage_note

    out = {}
    for name, section in (manifest.get("stage_results") or {}).items():
        note = stage_note(section)
        if note:
            out[name] = note
    return out


def environment(*, failed: dict[str, tuple[str, str]] | None = None) -> Environment:
    """The templates with Jinja2's i18n extension: ``_()`` and ``{% trans %}`` read the
    language set by :func:`visitonce.report.i18n.use`."""
    env = Environment(
        loader=PackageLoader("visitonce.report", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # a {% trans %} block's line breaks and indentation are not part of its message
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n._, ngettext=i18n.ngettext, newstyle=True
    )
    env.filters.update(fmt.FILTERS)
    env.filters["word"] = i18n.word
    env.globals["NOT_COMPUTED"] = _(model.NOT_COMPUTED)  # environment() runs within use()
    env.globals["PAGES"] = PAGES
    env.globals["show"] = lambda value, kind: fmt.FILTERS[kind](value)
    env.globals["lang"] = i18n.language
    env.globals["WORDED"] = i18n.WORDED_COLUMNS
    # why a page's table is absent: its stage failed or was skipped in this run, or not run
    failed = failed or {}

    def absence(stage: str | None = None) -> str:
        if stage not in failed:
            return _(model.NOT_COMPUTED)
        kind, detail = failed[stage]
        if kind == "failed":
            said = _("failed: %(error)s") % {"error": detail}
            if i18n.language() == "en":
                return said
            # the error line is the stage's own (English) words, recorded in the manifest
            recorded = _("(the error as the stage recorded it)")
            return f"{said} {recorded}"
        return _("skipped: %(reason)s") % {"reason": detail}

    env.globals["absence"] = absence
    return env


def department_file(slug: str) -> str:
    return f"department-{slug}.html"


def render_site(inp: ReportInputs) -> dict[str, str]:
    """Every page of the report, keyed by file name (relative to reports/), in the report's
    language (``inp.language``)."""
    with i18n.use(inp.language):
        return _render_site(inp)


def _render_site(inp: ReportInputs) -> dict[str, str]:
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
        "instant": lambda v: fmt.instant(v, time_zone=tz),
        "department_file": department_file,
        "exports": list(inp.exports),
    }
    # the catalog's item names, shown beside the codes (a global: the macros see it)
    env.globals["item_names"] = model.item_names(inp.catalog)
    bundles = model.bundles_page(inp)
    lagging = model.lagging_page(inp)
    alerts = model.alerts_page(inp)
    scorecards = model.scorecards_page(inp)
    departments = model.department_pages(inp)
    demand = demand_model.demand_page(inp)
    pages = {
        "bundles.html": env.get_template("bundles.html").render(
            page="bundles.html", title=_("Bundles"), b=bundles, **common
        ),
        "lagging.html": env.get_template("lagging.html").render(
            page="lagging.html", title=_("Lagging steps"), g=lagging, **common
        ),
        "alerts.html": env.get_template("alerts.html").render(
            page="alerts.html", title=_("Alerts"), a=alerts, **common
        ),
        "scorecards.html": env.get_template("scorecards.html").render(
            page="scorecards.html", title=_("Scorecards"), s=scorecards, departments=departments,
            **common,
        ),
        "demand.html": env.get_template("demand.html").render(
            page="demand.html", title=_("Demand and staffing"), d=demand, **common
        ),
        "method.html": env.get_template("method.html").render(
            page="method.html", title=_("Method"), manifest=m,
            config_json=json.dumps(m.get("config") or {}, indent=2, ensure_ascii=False),
            **common,
        ),
    }  # fmt: skip
    for d in departments:
        pages[department_file(d["slug"])] = env.get_template("department.html").render(
            page="scorecards.html",
            title=_("Scorecard: %(department)s") % {"department": d["department"]},
            d=d,
            **common,
        )
    pages["index.html"] = env.get_template("index.html").render(
        page="index.html",
        title=_("Overview"),
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
