"""The run's shared context: the request, the timer, the stage context and the small helpers
(argument parsing, one-line errors) that the pipeline, the stages, the jobs and the CLI share.

Dependencies run one way: jobs / CLI -> ``pipeline`` -> ``stages`` (the registry) -> each
stage -> transforms -> ``io``. This module sits below the stages and imports none of them.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyspark
from pyspark.sql import SparkSession

import visitonce
from visitonce import io
from visitonce.config import Config
from visitonce.mapping import SourceMapping


def one_line(e: BaseException) -> str:
    """An exception as one readable line (first line of its message, with its type)."""
    first = (str(e).strip().splitlines() or [""])[0][:300]
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def failed_section(e: BaseException) -> dict[str, Any]:
    """The manifest section of a stage that raised (its pages say "failed: <error>")."""
    return {"status": "failed", "error": one_line(e)}


def stage_note(section: Any) -> tuple[str, str] | None:
    """Why a stage's tables are not to be shown: ("failed", error) or ("skipped", reason)
    from its manifest section; None for a stage that ran."""
    if not isinstance(section, dict):
        return None
    if section.get("status") == "failed":
        return "failed", str(section.get("error") or "unknown error")
    if section.get("status") == "skipped":
        return "skipped", str(section.get("reason") or "nothing to analyse")
    return None


@dataclass(frozen=True)
class RunRequest:
    """Everything one run needs; built by the CLI or a job from its arguments."""

    events: str
    out: str
    mapping: SourceMapping
    key: bytes = field(repr=False)
    # When the data were observed (aware): timestamps later than this plus the tolerance are
    # future_timestamp, and open cases are judged overdue against it.
    as_of: dt.datetime
    catalog: str | None = None
    roster: str | None = None
    config: Config = field(default_factory=Config)
    # The data interval [start, end) of a scheduled run (aware): only events that started in it
    # are this run's; the others are counted as out of interval and left to their own runs.
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def table(self, name: str) -> str:
        return io.join_uri(self.out, name)


@dataclass
class Timer:
    """Stage timings in seconds, in the order the stages ran."""

    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round(time.perf_counter() - t0, 3)


Progress = Callable[[str], None]


def versions(spark: SparkSession) -> dict[str, str]:
    jvm = spark.sparkContext._jvm
    java = jvm.java.lang.System.getProperty("java.version") if jvm is not None else "?"
    return {
        "visitonce": visitonce.__version__,
        "pyspark": pyspark.__version__,
        "spark": spark.version,
        "python": platform.python_version(),
        "java": str(java),
    }


@dataclass
class StageContext:
    """What the analytic stages after ingest share: the session, the request, the timer."""

    spark: SparkSession
    req: RunRequest
    timer: Timer
    say: Progress
    outputs: dict[str, str] = field(default_factory=dict)  # table name -> URI, for the manifest
    counts: dict[str, Any] = field(default_factory=dict)  # ingest's counts (reports show them)
    # manifest sections of the stages run so far (the reports show e.g. the forecast errors)
    results: dict[str, Any] = field(default_factory=dict)


# An analytic stage reads the curated tables under req.out, writes its own tables (recording
# them in ctx.outputs) and returns its manifest section (figures worth auditing), or None.
Stage = Callable[[StageContext], "dict[str, Any] | None"]


def parse_time(value: str | None, *, flag: str, time_zone: str) -> dt.datetime | None:
    """An aware datetime from an ISO date or date-time argument (local to ``time_zone`` when it
    has no offset); None when absent."""
    from zoneinfo import ZoneInfo

    from visitonce.config import ConfigError

    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as e:
        raise ConfigError(
            f"{flag} {value!r} is not an ISO date or date-time "
            "(e.g. 2026-04-01 or 2026-04-01T00:00:00+08:00)"
        ) from e
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(time_zone))
    return parsed


def local_date(when: dt.datetime | None, *, time_zone: str) -> dt.date | None:
    """The date of an aware time in ``time_zone`` (an interval bound as a bound on local
    dates such as ``applied_date``); None when absent."""
    from zoneinfo import ZoneInfo

    return None if when is None else when.astimezone(ZoneInfo(time_zone)).date()


def parse_local_date(value: str | None, *, flag: str, time_zone: str) -> dt.date | None:
    """The local date (in ``time_zone``) of an ISO date or date-time argument; None when
    absent. A date-time bound such as an Airflow interval end becomes its local date."""
    return local_date(parse_time(value, flag=flag, time_zone=time_zone), time_zone=time_zone)


def check_language(language: str | None) -> str | None:
    """A --lang value, checked (ConfigError naming the choices); None stays None."""
    from visitonce.config import REPORT_LANGUAGES, ConfigError

    if language is not None and language not in REPORT_LANGUAGES:
        raise ConfigError(f"--lang {language!r}: use one of {', '.join(REPORT_LANGUAGES)}")
    return language


@dataclass(frozen=True)
class JobScope:
    """What a spark-submit job over an existing warehouse starts from: the warehouse, the
    config, the data interval [start, end) and the ``--as-of`` given (each optional), parsed and
    checked once (``job_scope``) instead of in every job."""

    warehouse: str
    config: Config
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    as_of_arg: dt.datetime | None = None

    @property
    def time_zone(self) -> str:
        return self.config.ingest.time_zone

    @property
    def start_date(self) -> dt.date | None:
        """The interval's first local date (None: open)."""
        return local_date(self.start, time_zone=self.time_zone)

    @property
    def end_date(self) -> dt.date | None:
        """The local date the interval ends on (exclusive; None: open)."""
        return local_date(self.end, time_zone=self.time_zone)

    def table(self, name: str) -> str:
        return io.join_uri(self.warehouse, name)

    def read(self, spark: SparkSession, name: str, *, written_by: str = "ingest") -> Any:
        """A table of the warehouse; InputError naming the job to run first when it is absent."""
        uri = self.table(name)
        if not io.exists(spark, uri):
            raise io.InputError(
                f"no {name} table under {self.warehouse}: run {written_by} first (or pass "
                "--warehouse the output root of a visitonce run)"
            )
        return spark.read.parquet(uri)

    def read_optional(self, spark: SparkSession, name: str) -> Any:
        """A table of the warehouse, or None when it was not written (catalog, roster, ...)."""
        uri = self.table(name)
        return spark.read.parquet(uri) if io.exists(spark, uri) else None

    def in_interval(self, df: Any, column: str) -> Any:
        """The rows of ``df`` in [start, end): by instant on a timestamp column, by local date
        on a date column (``applied_date``, ``event_date``)."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import DateType

        by_date = isinstance(df.schema[column].dataType, DateType)
        lo, hi = (
            (self.start_date, self.end_date)
            if by_date
            else tuple(t and t.astimezone(dt.timezone.utc) for t in (self.start, self.end))
        )
        if lo is not None:
            df = df.where(F.col(column) >= F.lit(lo))
        if hi is not None:
            df = df.where(F.col(column) < F.lit(hi))
        return df

    def as_of(self, steps: Any) -> dt.datetime:
        """When open cases are judged: ``--as-of``, else the interval's end, else the latest
        start or end among ``steps`` (events or step facts). InputError when there is none."""
        from pyspark.sql import functions as F

        if self.as_of_arg or self.end:
            return self.as_of_arg or self.end  # type: ignore[return-value]
        # in microseconds: a collected timestamp would be naive in the driver's time zone
        row = steps.select(F.unix_micros(F.max(F.greatest("started_at", "ended_at")))).first()
        if row is None or row[0] is None:
            raise io.InputError(f"no steps in the interval under {self.warehouse}")
        return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=row[0])


def job_scope(args: Any) -> JobScope:
    """The ``JobScope`` of a job's parsed arguments (``warehouse``, ``config``, and where the
    job takes them, ``start``, ``end``, ``as_of``). Raises ConfigError with a one-line message
    on a bad config, date or interval."""
    from visitonce.config import ConfigError, load_config

    config = load_config(getattr(args, "config", None) or None)
    tz = config.ingest.time_zone
    start = parse_time(getattr(args, "start", None), flag="--start", time_zone=tz)
    end = parse_time(getattr(args, "end", None), flag="--end", time_zone=tz)
    if start and end and start >= end:
        raise ConfigError(f"--start {args.start} is not before --end {args.end}")
    as_of = parse_time(getattr(args, "as_of", None), flag="--as-of", time_zone=tz)
    return JobScope(args.warehouse, config, start, end, as_of)
