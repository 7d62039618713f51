"""The report's languages: Babel message catalogues (``locale/<locale>/LC_MESSAGES/messages.po``
and the ``.mo`` compiled from it) for every word on the pages, and the locale's number and date
symbols for every figure (visitonce.report.fmt).

The language is set for one rendering with :func:`use` (a context variable, so the page models
and charts translate their titles without passing it down); ``_`` and ``ngettext`` read it.
English is the source language: its catalogue is the identity. Column names of tables and
exports are the contract and are never translated. Update the catalogue after changing a
string: ``make messages`` (pybabel extract, update, compile)."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext as _gettext
from collections.abc import Iterator
from pathlib import Path

from visitonce.config import REPORT_LANGUAGES

LANGUAGES = REPORT_LANGUAGES
LOCALES = {"en": "en", "zh-CN": "zh_CN"}
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("report_language", default="en")


def check_language(language: str) -> str:
    """``language`` if it is one the report speaks; ValueError naming the choices otherwise."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown report language {language!r}: use one of {', '.join(LANGUAGES)}")
    return language


@functools.cache
def translations(language: str) -> _gettext.NullTranslations:
    """The catalogue of ``language`` (identity for English)."""
    from babel.support import Translations

    check_language(language)
    if language == "en":
        return _gettext.NullTranslations()
    got = Translations.load(str(LOCALE_DIR), [LOCALES[language]], DOMAIN)
    if not isinstance(got, Translations):  # Babel returns NullTranslations when no .mo exists
        raise FileNotFoundError(f"no compiled catalogue for {language} under {LOCALE_DIR}")
    return got


def language() -> str:
    """The language of the rendering in progress."""
    return _current.get()


def locale() -> str:
    """The Babel locale of the rendering in progress (``en``, ``zh_CN``)."""
    return LOCALES[_current.get()]


@contextlib.contextmanager
def use(language: str) -> Iterator[None]:
    """Render in ``language`` within the block."""
    token = _current.set(check_language(language))
    try:
        yield
    finally:
        _current.reset(token)


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue where it is defined; it is translated where shown."""
    return message


def _(message: str) -> str:
    """``message`` in the current language."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


# Vocabulary values shown as words on the pages (statuses, changes, scopes, proposals,
# methods): code -> English label. The code stays in data attributes and exports; the label is
# translated. A value not listed here is data (a name, a code) and is shown as it is.
VOCABULARY = {
    # lagging_steps.status
    "lagging": N_("lagging"),
    "normal": N_("normal"),
    "workload": N_("workload"),
    "insufficient_data": N_("insufficient_data"),
    "no_peers": N_("no_peers"),
    "unknown": N_("unknown"),
    # funnel status of scorecard KPIs
    "much_better": N_("much better"),
    "better": N_("better"),
    "within": N_("within"),
    "worse": N_("worse"),
    "much_worse": N_("much worse"),
    "no_data": N_("no data"),
    "unavailable": N_("unavailable"),
    # bundle_changes.change
    "new": N_("new"),
    "strengthened": N_("strengthened"),
    "weakened": N_("weakened"),
    "dropped": N_("dropped"),
    "steady": N_("steady"),
    # bundle scopes and the segment of everyone
    "citizen": N_("citizen"),
    "place": N_("place"),
    "everyone": N_("everyone"),
    # service_hours.edge and .proposal
    "opening": N_("opening"),
    "closing": N_("closing"),
    "keep": N_("keep"),
    "consider_extending": N_("consider extending"),
    "consider_closing": N_("consider closing"),
    # demand_forecast.method
    "model": N_("model"),
    "seasonal_baseline": N_("seasonal baseline"),
    "naive_last_week": N_("naive last week"),
    # digital_gap.age_band for every age
    "all": N_("all"),
    # alerts.direction
    "high": N_("high"),
    "low": N_("low"),
    # lagging_steps.status (v2), .kind, .comparison, .setting, .basis
    "no_comparison": N_("no comparison"),
    "basis_unreliable": N_("basis unreliable"),
    "processing": N_("processing"),
    "waiting": N_("waiting"),
    "handoff": N_("hand-off"),
    "history": N_("own history"),
    "places": N_("other centres"),
    "rule": N_("time limit"),
    "peers": N_("other items"),
    "desk": N_("desk"),
    "back_office": N_("back office"),
    "mail": N_("mail"),
    "working": N_("working time"),
    "calendar": N_("calendar time"),
    # events.channel
    "counter": N_("counter"),
    "online": N_("online"),
    "mobile": N_("mobile"),
    "hotline": N_("hotline"),
    "self_service": N_("self-service"),
    "other": N_("other"),
    # events.citizen_type
    "individual": N_("individual"),
    "enterprise": N_("enterprise"),
    # scorecard_equity.dimension
    "channel": N_("channel"),
    "district": N_("district"),
    "citizen_type": N_("citizen type"),
    "age_band": N_("age band"),
    # scorecard_explanations.kind
    "driver_up": N_("raises the score"),
    "driver_down": N_("lowers the score"),
    "lagging_step": N_("lagging step"),
    "next_band": N_("next band"),
    "trend": N_("trend"),
    # scorecard_kpis.kind
    "rate": N_("rate"),
    "mean": N_("mean"),
    "quantile": N_("quantile"),
    # alerts.metric (visitonce.monitor.metrics.METRICS)
    "arrivals": N_("arrivals"),
    "waiting_p50_min": N_("median wait (min)"),
    "waiting_p90_min": N_("90th-percentile wait (min)"),
    "queue_estimate": N_("queue length"),
    "processing_p50_min": N_("median processing (min)"),
    "satisfaction_mean": N_("mean satisfaction"),
    # staffing_plan.status
    "short": N_("short"),
    "idle": N_("idle"),
    "balanced": N_("balanced"),
    # alerts_live_deliveries.status
    "sent": N_("sent"),
    "failed": N_("failed"),
    "gave_up": N_("gave up"),
}

# Table columns whose values are vocabulary words (the contracts' vocabularies): the pages
# show them through ``word``; any other column's values are data, shown as they are.
WORDED_COLUMNS = frozenset(
    {"status", "kind", "comparison", "metric", "group", "setting", "basis", "channel",
     "first_channel", "citizen_type", "dimension", "direction", "scope", "change", "edge",
     "proposal", "method", "funnel_status"}
)  # fmt: skip


def word(value: object) -> str:
    """A vocabulary value as a word of the current language; any other value as it is."""
    text = "" if value is None else str(value)
    label = VOCABULARY.get(text)
    return _(label) if label is not None else text


def sentence(stored: object, fallback: object = None) -> str:
    """A sentence a stage stored as a message (``visitonce.messages``: code and params) in the
    current language; ``fallback`` (the stored English text) when the row has no message (a
    table written before messages existed) and, unchanged, on English pages. Params are data
    (names, codes, numbers as the stage wrote them); a ``date`` param is written for the locale."""
    from visitonce import messages
    from visitonce.report import fmt

    text = "" if fallback is None or fmt.is_missing(fallback) else str(fallback)
    msg = messages.decode(stored)
    if msg is None or (language() == "en" and text):
        return text
    params = dict(msg["params"])
    if params.get("date"):
        params["date"] = fmt.day(params["date"])
    template = messages.TEMPLATES[msg["code"]]  # extracted from visitonce/messages.py
    try:
        return _(template) % params
    except (KeyError, TypeError, ValueError):  # a message older than its template: stored text
        return text or messages.english(msg)
