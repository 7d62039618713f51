"""Working time between two instants on a working calendar (built-in Spark functions only).

A working day is a day of ``CalendarConfig`` that is not a weekend day (unless a make-up working
day) and not a holiday; on it, work happens between ``day_start`` and ``day_end`` local time.
The working seconds of an interval are the sum, over the local days it touches, of its overlap
with that day's working hours. Local wall-clock time comes from ``from_utc_timestamp`` in the
analysis zone (zones with daylight saving lose or gain the switch hour; Asia/Shanghai has none).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column
from pyspark.sql import functions as F

from visitonce.applications import is_working_day
from visitonce.config import CalendarConfig

_DAY = 86_400


def clock_seconds(hhmm: str) -> int:
    """Seconds after midnight of an ``HH:MM`` string."""
    try:
        h, m = hhmm.split(":")
        value = int(h) * 3600 + int(m) * 60
    except ValueError as e:
        raise ValueError(f"{hhmm!r} is not a time of day HH:MM") from e
    if not 0 <= value <= _DAY:
        raise ValueError(f"{hhmm!r} is not a time of day HH:MM")
    return value


def local_seconds(ts: Column, time_zone: str) -> Column:
    """Local wall-clock seconds since 1970-01-01 00:00 local (double, microsecond precision)."""
    return F.unix_micros(F.from_utc_timestamp(ts, time_zone)) / F.lit(1_000_000.0)


def _weekday_count(a: Column, b: Column, iso_weekday: int) -> Column:
    """How many day numbers in [a, b] (days since 1970-01-01, a Thursday) fall on an ISO
    weekday (Monday=1 ... Sunday=7); 0 when b < a."""
    r = (iso_weekday - 4) % 7  # day numbers d with that weekday: d = r (mod 7)
    return F.greatest(F.floor((b - F.lit(r)) / 7) - F.floor((a - F.lit(1 + r)) / 7), F.lit(0))


def working_days_between(a: Column, b: Column, calendar: CalendarConfig) -> Column:
    """Working days among the day numbers [a, b] (0 when b < a), in constant work per row.

    The weekdays that are not weekend days, counted in closed form, then corrected by each
    holiday or make-up day that falls in the range and changes its day's status.
    """
    weekend = set(calendar.weekend_days)
    days = F.greatest(b - a + F.lit(1), F.lit(0))
    for w in sorted(weekend):
        days = days - _weekday_count(a, b, w)
    epoch = dt.date(1970, 1, 1)
    corrections = []  # (day number, +1 for a worked weekend day, -1 for a weekday off)
    for d in sorted(set(calendar.holidays) | set(calendar.makeup_workdays)):
        usual = d.isoweekday() not in weekend
        actual = (usual or d in calendar.makeup_workdays) and d not in calendar.holidays
        if actual != usual:
            corrections.append(((d - epoch).days, 1 if actual else -1))
    if not corrections:
        return days
    fixes = F.array(*[F.struct(F.lit(dn).alias("d"), F.lit(c).alias("c")) for dn, c in corrections])
    inside = F.filter(fixes, lambda x: (x["d"] >= a) & (x["d"] <= b))
    return days + F.aggregate(inside, F.lit(0), lambda acc, x: acc + x["c"])


def working_seconds(
    start: Column,
    end: Column,
    *,
    calendar: CalendarConfig,
    time_zone: str,
    day_start: str = "08:30",
    day_end: str = "17:30",
) -> Column:
    """Working seconds in [start, end] (double); 0 when end <= start; null if either is null.

    The first and last local days count their overlap with working hours; the days between
    count whole working days (``working_days_between``), so the work per row does not grow with
    the interval's length (an open step of years costs what a step of an hour costs).
    """
    open_s, close_s = clock_seconds(day_start), clock_seconds(day_end)
    ls, le = local_seconds(start, time_zone), local_seconds(end, time_zone)
    first = F.floor(ls / _DAY)
    last = F.floor(le / _DAY)

    def overlap(day: Column) -> Column:
        base = day * F.lit(_DAY)
        lo = F.greatest(ls, base + F.lit(float(open_s)))
        hi = F.least(le, base + F.lit(float(close_s)))
        working = is_working_day(F.date_from_unix_date(day.cast("int")), calendar)
        return F.when(working, F.greatest(hi - lo, F.lit(0.0))).otherwise(F.lit(0.0))

    between = working_days_between(first + F.lit(1), last - F.lit(1), calendar)
    later = overlap(last) + between.cast("double") * F.lit(float(max(close_s - open_s, 0)))
    total = F.when(last < first, F.lit(0.0)).otherwise(
        overlap(first) + F.when(last > first, later).otherwise(F.lit(0.0))
    )
    return F.when(start.isNull() | end.isNull(), F.lit(None).cast("double")).otherwise(
        F.coalesce(total, F.lit(0.0))
    )
