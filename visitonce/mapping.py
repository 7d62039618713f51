"""Source mappings: one small YAML file per source system turns its export into the contract.

A mapping declares the file format and encoding, column renames, constant columns, value maps
(a system's own codes -> the contract's vocabulary), timestamp formats and time zone, duration
columns and their units, strings that mean "empty", and how to derive fields a system does not
record. ``docs/source-mappings.md`` documents the format with a worked example; built-in
mappings live in ``visitonce/mappings/`` and are picked by name (``--source canonical``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from visitonce import columns as C
from visitonce.config import ConfigError, check_time_zone

BUILTIN_DIR = Path(__file__).resolve().parent / "mappings"
FORMATS = ("auto", "csv", "jsonl", "parquet", "xes")
UNITS_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
# Python codec names Spark's CSV reader understands for the encodings government systems use.
ENCODINGS = {
    "utf-8": "UTF-8",
    "utf8": "UTF-8",
    "gbk": "GBK",
    "gb18030": "GB18030",
    "gb2312": "GBK",
    "utf-16": "UTF-16",
}


@dataclass(frozen=True)
class ValueMap:
    """Map a column's raw codes (compared trimmed and case-insensitively) to contract values."""

    mapping: Mapping[str, str]
    # Used for codes not in the map; None keeps the raw value (then validation judges it).
    default: str | None = None


@dataclass(frozen=True)
class Duration:
    """Derive ``target`` = ``anchor`` + sign × ``column`` (a number in ``unit``)."""

    column: str
    unit: str
    target: str
    anchor: str
    sign: int


@dataclass(frozen=True)
class SourceMapping:
    """How one source system's export becomes contract events."""

    name: str
    format: str = "auto"
    encoding: str = "UTF-8"
    delimiter: str = ","
    multiline: bool = False
    # Zone of timestamps written without an offset; None means the analysis time zone.
    time_zone: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)  # contract name -> source name
    # Further source columns per contract column, used in order when the first is empty
    # (``columns: {location: [Incident Address, BBL]}``).
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Values for contract columns that are empty or absent in the export (a schema without a
    # channel column); unlike constants, a value the export does give is kept.
    defaults: Mapping[str, str] = field(default_factory=dict)
    # Per timestamp column, local dates (in the mapping's zone) that a system writes for
    # "no value" (``1900-01-01``): such rows are quarantined as sentinel_timestamp.
    sentinels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Source columns whose values identify a row when the export has no ID: application_id is
    # their hash plus the row's occurrence number among identical rows of its file, so a file
    # repeating another file's rows gives duplicates, while identical rows in one file stay.
    row_key: tuple[str, ...] = ()
    # A contract column is kept only where a source column holds one of the listed values
    # (``keep_if: {ended_at: {status: [closed]}}``: Open311's updated_datetime is an end only
    # once the request is closed); elsewhere it is empty.
    keep_if: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, ValueMap] = field(default_factory=dict)
    # Spark datetime patterns per timestamp column, tried in order; none means ISO 8601.
    timestamps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    durations: tuple[Duration, ...] = ()
    null_values: tuple[str, ...] = ("", "null", "NULL", "None", "N/A", "NA", "\\N")
    # started_at: "previous_end" for completion-only logs (start = previous event of the case).
    started_at_from_previous: bool = False
    # physical_visit derived from the channel when the source does not record it.
    physical_visit_channels: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def source_column(self, target: str) -> str:
        """The source column that feeds a contract column (itself when not renamed)."""
        return self.columns.get(target, target)


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def load_mapping(name_or_path: str) -> SourceMapping:
    """A built-in mapping by name, or a mapping file by path."""
    path = Path(name_or_path)
    if not (path.suffix in {".yaml", ".yml"} and path.is_file()):
        path = BUILTIN_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown source mapping {name_or_path!r}: use one of "
            f"{', '.join(builtin_names())} or the path of a mapping YAML file"
        )
    try:
        raw = yaml.safe_load(path.read_text("utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"mapping {path} is not valid YAML: {e}".splitlines()[0]) from e
    return parse_mapping(raw, where=str(path))


_KEYS = {
    "name",
    "description",
    "format",
    "encoding",
    "delimiter",
    "multiline",
    "time_zone",
    "columns",
    "constants",
    "values",
    "timestamps",
    "durations",
    "null_values",
    "derive",
    "defaults",
    "sentinels",
    "keep_if",
}


def parse_mapping(raw: Mapping[str, Any], *, where: str = "mapping") -> SourceMapping:
    """Validate a mapping document; every mistake is a one-line ConfigError naming the key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a mapping file must be a YAML mapping")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
    contract = set(C.EVENT_COLUMNS)

    def _targets(section: str) -> dict[str, Any]:
        value = dict(raw.get(section) or {})
        bad = set(value) - contract
        if bad:
            raise ConfigError(
                f"{where}: {section} names {sorted(bad)}, which are not contract "
                f"columns ({', '.join(C.EVENT_COLUMNS)})"
            )
        return value

    fmt = str(raw.get("format", "auto")).lower()
    if fmt not in FORMATS:
        raise ConfigError(f"{where}: format {fmt!r} is not one of {', '.join(FORMATS)}")
    enc_key = str(raw.get("encoding", "utf-8")).lower()
    if enc_key not in ENCODINGS:
        raise ConfigError(f"{where}: encoding {enc_key!r} is not one of {', '.join(ENCODINGS)}")
    tz = raw.get("time_zone")
    if tz is not None:
        check_time_zone(str(tz), f"{where}: time_zone")

    values = {}
    for target, spec in _targets("values").items():
        if not isinstance(spec, Mapping) or "map" not in spec:
            raise ConfigError(f"{where}: values.{target} needs a 'map:' of raw code -> value")
        mapping = {str(k).strip().lower(): str(v) for k, v in dict(spec["map"]).items()}
        default = spec.get("default")
        values[target] = ValueMap(mapping, None if default is None else str(default))

    timestamps = {}
    for target, formats in _targets("timestamps").items():
        if target not in C.TIMESTAMP_COLUMNS:
            raise ConfigError(
                f"{where}: timestamps.{target}: only {C.TIMESTAMP_COLUMNS} are timestamps"
            )
        formats = [formats] if isinstance(formats, str) else list(formats or [])
        timestamps[target] = tuple(str(f) for f in formats)

    durations = []
    for i, d in enumerate(raw.get("durations") or []):
        try:
            unit = str(d.get("unit", "seconds"))
            dur = Duration(
                column=str(d["column"]),
                unit=unit,
                target=str(d["target"]),
                anchor=str(d["anchor"]),
                sign=-1 if d.get("before") else 1,
            )
        except (KeyError, AttributeError, TypeError) as e:
            raise ConfigError(
                f"{where}: durations[{i}] needs column, target, anchor (and unit, before)"
            ) from e
        if unit not in UNITS_SECONDS:
            raise ConfigError(
                f"{where}: durations[{i}].unit {unit!r} is not one of {', '.join(UNITS_SECONDS)}"
            )
        if dur.target not in C.TIMESTAMP_COLUMNS or dur.anchor not in C.TIMESTAMP_COLUMNS:
            raise ConfigError(
                f"{where}: durations[{i}]: target and anchor must be among {C.TIMESTAMP_COLUMNS}"
            )
        durations.append(dur)

    derive = dict(raw.get("derive") or {})
    bad_derive = set(derive) - {"started_at", "physical_visit", "application_id"}
    if bad_derive:
        raise ConfigError(
            f"{where}: derive supports started_at, physical_visit and application_id, "
            f"not {sorted(bad_derive)}"
        )
    app_key = derive.get("application_id")
    if app_key is not None and not (
        isinstance(app_key, Mapping) and isinstance(app_key.get("row_key"), list)
    ):
        raise ConfigError(f"{where}: derive.application_id must be {{row_key: [source columns]}}")
    row_key = tuple(str(c) for c in app_key["row_key"]) if app_key else ()

    columns: dict[str, str] = {}
    fallbacks: dict[str, tuple[str, ...]] = {}
    for target, source in _targets("columns").items():
        names = [str(v) for v in source] if isinstance(source, list) else [str(source)]
        if not names:
            raise ConfigError(f"{where}: columns.{target} names no source column")
        columns[target] = names[0]
        if len(names) > 1:
            fallbacks[target] = tuple(names[1:])

    keep_if = {}
    for target, cond in _targets("keep_if").items():
        if not (isinstance(cond, Mapping) and len(cond) == 1):
            raise ConfigError(f"{where}: keep_if.{target} must be {{source column: [values]}}")
        ((col, vals),) = cond.items()
        vals = [vals] if isinstance(vals, str) else list(vals or [])
        keep_if[target] = (str(col), tuple(str(v).strip().lower() for v in vals))

    sentinels = {}
    for target, dates in _targets("sentinels").items():
        if target not in C.TIMESTAMP_COLUMNS:
            raise ConfigError(
                f"{where}: sentinels.{target}: only {C.TIMESTAMP_COLUMNS} are timestamps"
            )
        dates = [dates] if isinstance(dates, str) else list(dates or [])
        for d in dates:
            try:
                _dt.date.fromisoformat(str(d))
            except ValueError as e:
                raise ConfigError(
                    f"{where}: sentinels.{target}: {d!r} is not an ISO date (e.g. 1900-01-01)"
                ) from e
        sentinels[target] = tuple(str(d) for d in dates)
    started = derive.get("started_at")
    if started not in (None, "previous_end"):
        raise ConfigError(f"{where}: derive.started_at must be 'previous_end'")
    pv = derive.get("physical_visit") or {}
    pv_channels = tuple(str(c) for c in (pv.get("channels") or ())) if pv else ()

    return SourceMapping(
        name=str(raw.get("name") or Path(where).stem),
        format=fmt,
        encoding=ENCODINGS[enc_key],
        delimiter=str(raw.get("delimiter", ",")),
        multiline=bool(raw.get("multiline", False)),
        time_zone=None if tz is None else str(tz),
        columns=columns,
        fallbacks=fallbacks,
        defaults={k: str(v) for k, v in _targets("defaults").items()},
        sentinels=sentinels,
        row_key=row_key,
        keep_if=keep_if,
        constants={k: str(v) for k, v in _targets("constants").items()},
        values=values,
        timestamps=timestamps,
        durations=tuple(durations),
        null_values=tuple(str(v) for v in raw.get("null_values", SourceMapping.null_values)),
        started_at_from_previous=started == "previous_end",
        physical_visit_channels=pv_channels,
        raw=dict(raw),
    )
