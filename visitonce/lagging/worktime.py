"""Working time between two instants on a working calendar (built-in Spark functions only).

A working day is a day of ``CalendarConfig`` that is not a weekend day (unless a make-up working
day) and not a holiday; on it, work happens between ``day_start`` and ``day_end`` local time.
The working seconds of an interval are the sum, over the local days it touches, of its overlap
with that day's working hours. Local wall-clock time comes from ``from_utc_timestamp`` in the
analysis zone (zones with daylight saving lose or gain the switch hour; Asia/Shanghai has none).
"""

from __future__ import annotations

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


def working_seconds(
    start: Column,
    end: Column,
    *,
    calendar: CalendarConfig,
    time_zone: str,
    day_start: str = "08:30",
    day_end: str = "17:30",
) -> Column:
    """Working seconds in [start, end] (double); 0 when end <= start; null if either is null."""
    open_s, close_s = clock_seconds(day_start), clock_seconds(day_end)
    ls, le = local_seconds(start, time_zone), local_seconds(end, time_zone)
    first = F.floor(ls / _DAY)
    last = F.floor(le / _DAY)
    days = F.when(last >= first, F.sequence(first, last))

    def overlap(day: Column) -> Column:
        base = day * F.lit(_DAY)
        lo = F.greatest(ls, base + F.lit(float(open_s)))
        hi = F.least(le, base + F.lit(float(close_s)))
        working = is_working_day(F.date_from_unix_date(day.cast("int")), calendar)
        return F.when(working, F.greatest(hi - lo, F.lit(0.0))).otherwise(F.lit(0.0))

    total = F.aggregate(F.transform(days, overlap), F.lit(0.0), lambda acc, x: acc + x)
    return F.when(start.isNull() | end.isNull(), F.lit(None).cast("double")).otherwise(
        F.coalesce(total, F.lit(0.0))
    )
