"""Typed, frozen run configuration, loaded from an optional YAML file (``--config FILE``).

Only what a data centre may legitimately tune lives here; everything else is fixed by the
contracts. ``config_hash`` goes into every manifest so a published figure can be traced back to
the exact settings that produced it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml


class ConfigError(ValueError):
    """A configuration or mapping file is wrong; the message says what to change."""


@dataclass(frozen=True)
class IngestConfig:
    """Validation settings."""

    # Analysis time zone: event_date, working days and on-time status are local to it.
    time_zone: str = "Asia/Shanghai"
    # Timestamps later than the run's end plus this are quarantined as future_timestamp.
    future_tolerance_hours: float = 24.0
    # With a catalog, events of items not in it are quarantined (unknown_service_item).
    require_catalog_item: bool = True


@dataclass(frozen=True)
class CalendarConfig:
    """Working calendar for promised time limits (working days)."""

    # ISO weekday numbers (Monday=1 ... Sunday=7) that are not working days.
    weekend_days: tuple[int, ...] = (6, 7)
    # Public holidays (no work) and make-up working days (weekend days that are worked, as in
    # China's adjusted holiday schedule), as ISO dates.
    holidays: tuple[dt.date, ...] = ()
    makeup_workdays: tuple[dt.date, ...] = ()


@dataclass(frozen=True)
class Config:
    """The whole run configuration."""

    ingest: IngestConfig = field(default_factory=IngestConfig)
    calendar: CalendarConfig = field(default_factory=CalendarConfig)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    def hash(self, *extra: Any) -> str:
        """sha256 of this config (and any extra JSON-able parts, e.g. the source mapping)."""
        blob = json.dumps([self.to_dict(), *extra], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _dates(values: Any, where: str) -> tuple[dt.date, ...]:
    out = []
    for v in values or ():
        try:
            out.append(v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)))
        except ValueError as e:
            raise ConfigError(f"{where}: {v!r} is not an ISO date (YYYY-MM-DD)") from e
    return tuple(sorted(out))


def load_config(path: str | Path | None) -> Config:
    """Read a YAML config; unknown keys are errors (a typo must not silently change nothing)."""
    if path is None:
        return Config()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} not found: pass an existing YAML file to --config")
    try:
        raw = yaml.safe_load(p.read_text("utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {p} is not valid YAML: {e}".splitlines()[0]) from e
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {p} must be a mapping of sections (ingest, calendar)")
    sections = {"ingest": IngestConfig, "calendar": CalendarConfig}
    unknown = set(raw) - set(sections)
    if unknown:
        raise ConfigError(
            f"config file {p}: unknown section(s) {sorted(unknown)}; known: {sorted(sections)}"
        )
    built: dict[str, Any] = {}
    for name, cls in sections.items():
        values = dict(raw.get(name) or {})
        known = {f.name for f in dataclasses.fields(cls)}
        bad = set(values) - known
        if bad:
            raise ConfigError(
                f"config file {p}: unknown key(s) {sorted(bad)} in {name}; known: {sorted(known)}"
            )
        if name == "calendar":
            for key in ("holidays", "makeup_workdays"):
                if key in values:
                    values[key] = _dates(values[key], f"{p}: calendar.{key}")
            if "weekend_days" in values:
                values["weekend_days"] = tuple(int(d) for d in values["weekend_days"])
        built[name] = cls(**values)
    config = Config(**built)
    check_time_zone(config.ingest.time_zone, f"{p}: ingest.time_zone")
    return config


def check_time_zone(name: str, where: str) -> None:
    """Fail with a clear message on an unknown IANA time zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(
            f"{where}: unknown time zone {name!r} (use an IANA name such as Asia/Shanghai)"
        ) from e
