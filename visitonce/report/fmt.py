"""How numbers are written on the pages: one rule per kind of figure, used by every page (and
by the tests that check the pages against the tables)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

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


def count(v: Any) -> str:
    """An integer count with thousands separators: 12,345."""
    return MISSING if is_missing(v) else f"{int(v):,}"


def fixed(v: Any, digits: int = 2) -> str:
    """A real number with ``digits`` decimals: lift, ratios, scores."""
    return MISSING if is_missing(v) else f"{float(v):,.{digits}f}"


def percent(v: Any, digits: int = 1) -> str:
    """A share 0-1 as a percentage: 0.0123 -> 1.2%."""
    return MISSING if is_missing(v) else f"{100 * float(v):.{digits}f}%"


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
    if abs(s) < 3600:
        return f"{s / 60:.1f} min"
    if abs(s) < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def timestamp(v: Any, *, time_zone: str) -> str:
    """A UTC instant (naive = UTC, as Spark returns them) in the analysis zone, to the minute."""
    if is_missing(v):
        return MISSING
    from zoneinfo import ZoneInfo

    t = v.to_pydatetime() if hasattr(v, "to_pydatetime") else v
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m-%d %H:%M")


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
}
