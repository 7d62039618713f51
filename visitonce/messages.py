"""The sentences that analytic stages store in their tables (alert proposals, scorecard
explanations, staffing notes, lagging references, the forecast's note), kept translatable.

A stage stores each sentence twice: in English in its text column (the contract, unchanged) and
as a *message* beside it, ``{"code": ..., "params": {...}}`` in JSON, where the code names one
of the English templates below and the params are the values put into it, already written as
text (numbers with the stage's own precision; names and codes as they are). The report renders
the message through the gettext catalogue in the page's language
(``visitonce.report.i18n.sentence``); a row without a message (a table written before messages
existed) is shown as its stored text. ``english(message)`` equals the stored text: a test holds
the stages to it.

The templates are extracted into the report's catalogue (``babel.cfg``, ``make messages``);
``N_`` only marks them. Words that differ by case (raises / lowers, above / below) are separate
templates, never a parameter, so that every language can phrase them its own way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue; it is translated where it is shown."""
    return message


TEMPLATES: dict[str, str] = {
    # alerts.proposals (visitonce.monitor.alerts.desk_proposals)
    "alert.volume_drop": N_(
        "volume drop: %(value)s %(channel)s arrivals for %(department)s against %(expected)s "
        "expected %(when)s: check the channel for an outage and point citizens to the other "
        "channels meanwhile"
    ),
    "alert.satisfaction": N_(
        "satisfaction %(value)s against a usual %(expected)s: review the ratings and comments "
        "of %(department)s at %(where)s"
    ),
    "alert.add_officials": N_(
        "add %(extra)s official(s) to the %(department)s desks at %(center)s %(when)s "
        "(Erlang C: %(arrivals)s arrivals/h against a usual %(usual)s, %(service)s min each: "
        "%(needed)s officials keep the mean wait under %(target)s min, %(needed_usual)s at the "
        "usual rate)"
    ),
    "alert.add_officials_roster": N_(
        "add %(extra)s official(s) to the %(department)s desks at %(center)s %(when)s "
        "(Erlang C: %(arrivals)s arrivals/h against a usual %(usual)s, %(service)s min each: "
        "%(needed)s officials keep the mean wait under %(target)s min, %(needed_usual)s at the "
        "usual rate, the roster has %(roster)s)"
    ),
    "alert.move_idle": N_(
        "move up to %(spare)s official(s) from the idle %(department)s desk at %(center)s "
        "(utilisation %(utilisation)s %(when)s)"
    ),
    "alert.extend_hours": N_(
        "extend %(center)s's opening hours by 1 hour on %(date)s: the rush lasts until closing "
        "(about %(queue)s citizens queued, Little's law)"
    ),
    "alert.steer_online": N_(
        "steer online-capable items online: %(online)s of %(total)s counter arrivals "
        "(%(share)s) at %(center)s %(when)s were for items that can be done online"
    ),
    # scorecard_explanations.text (visitonce.scorecard.explain)
    "explain.driver_up": N_(
        "%(kpi)s %(value)s vs city %(city)s raises the score by %(points)s points"
    ),
    "explain.driver_down": N_(
        "%(kpi)s %(value)s vs city %(city)s lowers the score by %(points)s points"
    ),
    "explain.lagging_step": N_(
        "step %(step)s of %(service_item)s takes %(ratio)sx its peers' %(kind)s time"
    ),
    "explain.gate_below": N_("gate: bring %(kpi)s below %(threshold)s to lift the cap at %(cap)s"),
    "explain.gate_above": N_("gate: bring %(kpi)s above %(threshold)s to lift the cap at %(cap)s"),
    "explain.no_single_kpi": N_("no single KPI change reaches band %(band)s"),
    "explain.next_band": N_(
        "%(kpi)s from %(value)s to %(target)s lifts the score from %(score)s to %(cut)s "
        "(band %(band)s)"
    ),
    "explain.trend": N_("score %(delta)s vs previous period (90%% interval %(lo)s to %(hi)s)"),
    # staffing_plan.note (visitonce.demand.staffing.to_staffing_plan)
    "staffing.short_move": N_(
        "short %(short)s: %(center)s has %(idle)s idle at this hour and could move"
    ),
    "staffing.short_none": N_(
        "short %(short)s: no centre idle at this hour; add officials or move demand online"
    ),
    "staffing.idle_move": N_("idle %(idle)s: could move to %(center)s, short %(short)s"),
    "staffing.idle_none": N_(
        "idle %(idle)s: could serve online, hotline or back-office work at this hour"
    ),
    # lagging_steps.reference (visitonce.lagging.flags.expectations)
    "reference.history": N_("the %(days)s days before"),
    "reference.places": N_("the other %(others)s centres"),
    "reference.rule_working": N_(
        "legal limit %(limit)s working days for the whole case (working time)"
    ),
    "reference.rule_calendar": N_(
        "legal limit %(limit)s working days for the whole case (calendar time)"
    ),
    "reference.peers": N_("the item's other steps and %(others)s other items' same step"),
    # the manifest's demand.staffing.target (visitonce.demand.stage)
    "staffing.target": N_("%(level)s within %(minutes)s minutes"),
    # the manifest's demand.forecast.note (visitonce.demand.stage)
    "forecast.not_judged": N_(
        "%(days)s days of history: fewer than holdout_days + 14, so the forecast is not judged "
        "and the seasonal baseline is used"
    ),
}


def message(code: str, **params: Any) -> dict[str, Any]:
    """The message ``code`` with ``params`` (written as text)."""
    if code not in TEMPLATES:
        raise KeyError(f"unknown message code {code!r}")
    return {"code": code, "params": {k: "" if v is None else str(v) for k, v in params.items()}}


def encode(msg: Mapping[str, Any]) -> str:
    """A message as the JSON stored in a table."""
    return json.dumps(msg, ensure_ascii=False, sort_keys=True)


def decode(stored: Any) -> dict[str, Any] | None:
    """A stored message (JSON text or an already parsed dict); None if absent or unknown."""
    if stored is None:
        return None
    if isinstance(stored, str):
        if not stored.strip():
            return None
        try:
            stored = json.loads(stored)
        except ValueError:
            return None
    if not isinstance(stored, Mapping) or stored.get("code") not in TEMPLATES:
        return None
    return {"code": stored["code"], "params": dict(stored.get("params") or {})}


def english(msg: Mapping[str, Any]) -> str:
    """The English sentence of a message: what the stage stores as text."""
    return TEMPLATES[msg["code"]] % msg["params"]


def compose(code: str, **params: Any) -> tuple[str, str]:
    """The English sentence and the stored JSON of the message ``code`` with ``params``."""
    msg = message(code, **params)
    return english(msg), encode(msg)
