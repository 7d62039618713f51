"""How numbers are written on the pages: one rule per kind of figure, used by every page (and
by the tests that check the pages against the tables). Separators, units and dates follow the
language of the rendering (visitonce.report.i18n): ``2026-03-18 10:00`` in English,
``2026年3月18日 10:00`` in Chinese."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from visitonce.report import i18n

MISSING = "–"


def is_missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(isinstance(v, float) and math.isnan(v)) or v is _NA
    except TypeError:  # pragma: no cover
        return False


try:  # pandas' NA scalar, when pandas is about
    import pandas as _pd

    _NA: Any = _pd.NA
except ImportError:  # pragma: no cover
    _NA = object()


def _symbols(text: str) -> str:
    """A number written with Python's ``,`` and ``.`` in the locale's group and decimal symbols."""
    loc = i18n.locale()
    if loc == "en":
        return text
    from babel import numbers

    group, decimal = numbers.get_group_symbol(loc), numbers.get_decimal_symbol(loc)
    if (group, decimal) == (",", "."):
        return text
    return text.replace(",", "\0").replace(".", decimal).replace("\0", group)


def count(v: Any) -> str:
    """An integer count with thousands separators: 12,345."""
    return MISSING if is_missing(v) else _symbols(f"{int(v):,}")


def fixed(v: Any, digits: int = 2) -> str:
    """A real number with ``digits`` decimals: lift, ratios, scores."""
    return MISSING if is_missing(v) else _symbols(f"{float(v):,.{digits}f}")


def percent(v: Any, digits: int = 1) -> str:
    """A share 0-1 as a percentage: 0.0123 -> 1.2%."""
    return MISSING if is_missing(v) else _symbols(f"{100 * float(v):.{digits}f}") + "%"


def pvalue(v: Any) -> str:
    """A p- or q-value: two significant digits, scientific below 0.001."""
    if is_missing(v):
        return MISSING
    x = float(v)
    return f"{x:.1e}" if 0 < x < 0.001 else f"{x:.3f}"


def duration(seconds: Any) -> str:
    """Seconds as minutes (below an hour), hours (below two days) or days, one decimal."""
    if is_missing(seconds):
        return MISSING
    s = float(seconds)
    _ = i18n._
    if abs(s) < 3600:
        return _symbols(f"{s / 60:.1f}") + " " + _("min")
    if abs(s) < 48 * 3600:
        return _symbols(f"{s / 3600:.1f}") + " " + _("h")
    return _symbols(f"{s / 86400:.1f}") + " " + _("d")


def timestamp(v: Any, *, time_zone: str) -> str:
    """A UTC instant (naive = UTC, as Spark returns them) in the analysis zone, to the minute."""
    if is_missing(v):
        return MISSING
    from zoneinfo import ZoneInfo

    t = v.to_pydatetime() if hasattr(v, "to_pydatetime") else v
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    t = t.astimezone(ZoneInfo(time_zone))
    if i18n.locale() == "en":
        return t.strftime("%Y-%m-%d %H:%M")
    from babel import dates

    pattern = dates.get_date_format("long", locale=i18n.locale()).pattern + " HH:mm"
    return dates.format_datetime(t, pattern, tzinfo=t.tzinfo, locale=i18n.locale())


def instant(v: Any, *, time_zone: str) -> str:
    """An ISO instant as the manifest stores it (``as_of``): as stored in English, to the
    minute in the analysis zone otherwise."""
    if is_missing(v) or i18n.locale() == "en":
        return MISSING if is_missing(v) else str(v)
    try:
        t = dt.datetime.fromisoformat(str(v))
    except ValueError:
        return str(v)
    return timestamp(t, time_zone=time_zone)


def day(v: Any) -> str:
    """A calendar date (a date, or an ISO string starting with one): 2026-03-18 in English,
    2026年3月18日 in Chinese; anything else as it is."""
    if is_missing(v):
        return MISSING
    if i18n.locale() == "en":
        return str(v)
    try:
        d = v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])
    except ValueError:
        return str(v)
    from babel import dates

    return dates.format_date(d, "long", locale=i18n.locale())


def text(v: Any) -> str:
    return MISSING if is_missing(v) else str(v)


def items(v: Any) -> str:
    """An array of codes, comma separated."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return MISSING
    return ", ".join(str(x) for x in list(v))


FILTERS = {
    "count": count,
    "fixed": fixed,
    "percent": percent,
    "pvalue": pvalue,
    "duration": duration,
    "text": text,
    "items": items,
    "day": day,
}
