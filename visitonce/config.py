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
    # A file whose rows are quarantined at this share or more is reported in the manifest's
    # file_alerts (and by the ingest job on stderr): usually one department's broken export.
    file_alert_share: float = 0.5
    # Landing laid out by day (events/date=YYYY-MM-DD/): a folder's date is the day its export
    # landed, so an event can land up to this many days after its own day. A run with an
    # interval reads the day folders from the day before its start through this many days after
    # its end (README, "Landing laid out by day"); a row landing later is never ingested.
    late_arrival_days: int = 3

    def __post_init__(self) -> None:
        days = self.late_arrival_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ConfigError(
                f"ingest.late_arrival_days: {days!r} is out of range; use a whole number of "
                "days, 0 or more (how late an export may land after its events' day)"
            )


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
class BundlesConfig:
    """Mining of "one service" bundles (docs/methodology-bundles.md)."""

    # Citizen scope: a basket is a run of one applicant's applications, each applied for within
    # window_days of the previous one. 14 days covers the life events the reform targets (a
    # house purchase's filing, deed tax and registration; a newborn's certificates) without
    # chaining a whole month of unrelated errands.
    window_days: int = 14
    # Place scope: reports at one location key, each within place_window_days of the previous.
    place_window_days: int = 3
    # An itemset needs min_count baskets AND min_support of its scope and segment's baskets;
    # the count floor lets a small group's bundle through where a support floor alone would not.
    min_count: int = 20
    # Place baskets are sparse (most places have one report): a lower floor for that scope.
    place_min_count: int = 10
    min_support: float = 0.001
    max_len: int = 5
    # Lift (observed / expected under the basket-size null model) a bundle must reach.
    min_lift: float = 2.0
    # Columns whose values are segments: a bundle strong in one is reported under it.
    segments: tuple[str, ...] = ("citizen_type", "age_band", "district")
    # Strata of the null model (citizen scope): items only some applicants are eligible for
    # (enterprises, the elderly) co-occur among them by eligibility alone; expectations are
    # computed within each joint stratum and summed.
    strata: tuple[str, ...] = ("citizen_type", "age_band")
    # Strata of the place null: bands of a place basket's number of reports (lower bounds,
    # ascending, the first 1). A building with many units draws many reports and many distinct
    # problems; it is compared with places that drew as many reports, not with single houses.
    # () pools every place basket.
    place_size_bands: tuple[int, ...] = (1, 2, 3, 5, 10)
    # and bands of its number of distinct items: a problem that makes a place's basket one of
    # several problems (a second complaint at a busy building) is compared among baskets of as
    # many problems, where the most frequent ones are the usual company.
    place_item_bands: tuple[int, ...] = (1, 2, 3, 4)
    # Benjamini-Hochberg false-discovery rate over every candidate of the run.
    fdr_alpha: float = 0.01
    # A sub-bundle is dropped when a reported super-bundle holds at least this share of it.
    closure_ratio: float = 0.5
    # Guard-rail: refuse to mine when the upper bound on frequent itemsets exceeds this.
    max_itemsets: int = 2_000_000
    # Relative change of support that makes a bundle strengthened / weakened.
    change_tolerance: float = 0.2
    # A run with an end (a scheduled DAG run, --end) mines the applications of the
    # lookback_days days before it: a quarter holds enough life events for stable bundles and
    # follows changes in behaviour. 0 mines everything before the end. Without an end, the
    # whole warehouse is mined.
    lookback_days: int = 91
    # Mining engine: bitset (vectorised counting, SON; for catalogs of up to a few thousand
    # frequent items), fpgrowth (Spark's PFP), or auto (bitset, fpgrowth beyond that).
    engine: str = "auto"

    def __post_init__(self) -> None:
        checks = {
            "window_days": self.window_days >= 1,
            "place_window_days": self.place_window_days >= 1,
            "min_count": self.min_count >= 2,
            "place_min_count": self.place_min_count >= 2,
            "min_support": 0.0 <= self.min_support <= 1.0,
            "max_len": self.max_len >= 2,
            "min_lift": self.min_lift >= 1.0,
            "fdr_alpha": 0.0 < self.fdr_alpha < 1.0,
            "closure_ratio": 0.0 < self.closure_ratio <= 1.0,
            "max_itemsets": self.max_itemsets >= 1,
            "change_tolerance": self.change_tolerance >= 0.0,
            "lookback_days": self.lookback_days >= 0,
            "engine": self.engine in ("auto", "bitset", "fpgrowth"),
            **{
                k: not b or (b[0] == 1 and list(b) == sorted(set(b)))
                for k, b in (
                    ("place_size_bands", self.place_size_bands),
                    ("place_item_bands", self.place_item_bands),
                )
            },
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(
                f"bundles: out-of-range value(s) for {', '.join(bad)} "
                "(see docs/methodology-bundles.md for the ranges)"
            )


@dataclass(frozen=True)
class LaggingConfig:
    """Lagging-step detection (visitonce.lagging; method in docs/methodology-lagging.md)."""

    # Below this many observations an item-step is reported as insufficient data.
    min_cases: int = 20
    # Flag only when observed / expected is at least this (effect size).
    min_effect: float = 2.0
    # Benjamini-Hochberg false-discovery rate across every tested comparison row.
    fdr_alpha: float = 0.05
    # Fewer other items with the same step, kind and setting than this: no peer expectation.
    min_peers: int = 5
    # Back-office working hours (local), on the working days of the calendar.
    work_day_start: str = "08:30"
    work_day_end: str = "17:30"
    # The judged period: the last judged_days of the data; "history" compares it with the
    # history_days before it (needs at least history_min_days of data there).
    judged_days: int = 28
    history_days: int = 84
    history_min_days: int = 28
    # Materiality: a flag needs observed - expected of at least this many seconds (per kind and
    # setting; multi_day applies when the expectation is a day or more).
    material_waiting_s: float = 600.0
    material_desk_s: float = 600.0
    material_back_office_s: float = 7_200.0
    material_handoff_s: float = 7_200.0
    material_multi_day_s: float = 86_400.0
    # Measurement basis: a back-office item-step is measured in calendar time when more than
    # this share of its steps start or end outside working hours, or when its working-time
    # median is under basis_min_s while its calendar median is an hour or more.
    basis_off_hours_share: float = 0.5
    basis_min_s: float = 60.0
    # An item-step more than this share of whose steps end at one minute of the day is
    # batch-stamped (its durations are known to the day): a flag needs a day of excess.
    batch_stamp_share: float = 0.5
    # A department (or centre) whose tested rows are slower than expected by this median ratio
    # across at least 3 rows is slow across the board: workload, not a lagging step.
    unit_wide_ratio: float = 1.5


@dataclass(frozen=True)
class MonitorConfig:
    """Live monitoring and alerting (visitonce.monitor)."""

    window_minutes: int = 60
    # Erlang-C proposals size desks so that the mean wait stays under this.
    wait_target_minutes: float = 15.0
    # False-alarm budget: thresholds are calibrated on the history so that each centre (and each
    # remote channel) raises at most this many incidents per week (docs/methodology-lagging.md).
    false_alarms_per_centre_week: float = 1.0
    # Floor under the calibrated thresholds: a window is a candidate when its robust z-score
    # reaches this, or its CUSUM reaches cusum_h (then scored as z_threshold x S / cusum_h).
    z_threshold: float = 6.0
    cusum_k: float = 1.0
    cusum_h: float = 8.0
    # Volume drops are only judged where at least this many arrivals per window are expected.
    min_expected_volume: float = 5.0
    # Waiting and processing metrics need at least this many observations in the window.
    min_window_cases: int = 5
    # Materiality: a candidate window only counts when it matters operationally. Waiting p50/p90
    # at or beyond this many minutes (None: wait_target_minutes).
    material_wait_minutes: float | None = None
    # Queue estimate (and arrivals surge at a rostered desk) longer than the desks can clear in
    # this many windows (officials x window / mean processing time).
    material_clear_windows: float = 1.0
    # Without a roster: arrivals, queue and processing at or beyond this multiple of expected.
    material_ratio: float = 1.5
    # Arrivals drop to at most this share of expected.
    material_drop_share: float = 0.5
    # Mean satisfaction this many points below expected.
    material_satisfaction_drop: float = 0.5
    # Candidate windows of one centre (any channel, department, metric) within this many windows
    # of each other form one incident (one alert with updates).
    merge_gap_windows: int = 2
    # At most this many alerts per day (highest scores first).
    max_alerts_per_day: int = 10
    # visitonce watch (docs/real-time.md). Window lengths judged live; the batch stage stores
    # slot baselines and thresholds for each (monitor_slots/). Empty: no live baselines.
    live_window_minutes: tuple[int, ...] = (15, 60)
    # A window is judged once the stream's event time has passed its end; rows that land more
    # than this many minutes behind the stream's event time are late (counted, not judged).
    live_lateness_minutes: float = 180.0
    # Hours of recent events the watcher keeps (for windows, CUSUM and merging incidents).
    live_horizon_hours: float = 6.0
    # No storms: at most this many notifications per centre (or remote channel) per hour; an
    # incident that goes on is re-notified only when its peak score grows by live_update_ratio.
    live_max_per_unit_hour: int = 3
    live_update_ratio: float = 1.5
    # Who is told: rules matching a centre, channel or department (any given key must match;
    # a rule without keys matches every alert), each with webhook URLs and e-mail addresses.
    contacts: tuple[Contact, ...] = ()
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "visitonce@localhost"
    # Delivery: attempts per round (exponential backoff from delivery_backoff_seconds); a
    # delivery still failing is retried on the watcher's next rounds, up to delivery_rounds.
    delivery_attempts: int = 3
    delivery_backoff_seconds: float = 0.5
    delivery_rounds: int = 20
    delivery_timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        bad = [
            k
            for k, ok in {
                "window_minutes": self.window_minutes >= 1,
                "live_window_minutes": all(1 <= m <= 24 * 60 for m in self.live_window_minutes),
                "live_lateness_minutes": self.live_lateness_minutes >= 0,
                "live_horizon_hours": self.live_horizon_hours > 0,
                "live_max_per_unit_hour": self.live_max_per_unit_hour >= 1,
                "live_update_ratio": self.live_update_ratio > 1.0,
                "delivery_attempts": self.delivery_attempts >= 1,
                "delivery_rounds": self.delivery_rounds >= 1,
            }.items()
            if not ok
        ]
        if bad:
            raise ConfigError(
                f"monitor: out-of-range value(s) for {', '.join(bad)} (see docs/real-time.md)"
            )


@dataclass(frozen=True)
class Contact:
    """A recipient rule of monitor.contacts: alerts of the matching centre / channel /
    department go to these webhooks (JSON POST) and e-mail addresses."""

    center: str | None = None
    channel: str | None = None
    department: str | None = None
    webhooks: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    name: str | None = None

    def matches(self, alert: dict[str, Any]) -> bool:
        keys = {"center": self.center, "channel": self.channel, "department": self.department}
        for key, want in keys.items():
            if want is None:
                continue
            have = alert.get(key)
            many = alert.get(f"{key}s")  # every channel / department of the incident
            if want != have and want not in (() if many is None else list(many)):
                return False
        return True


def contacts_from(values: Any, where: str) -> tuple[Contact, ...]:
    """monitor.contacts from YAML: a list of mappings with the Contact fields."""
    if values is None:
        return ()
    if not isinstance(values, list):
        raise ConfigError(f"{where}: monitor.contacts must be a list of recipient rules")
    out = []
    known = {f.name for f in dataclasses.fields(Contact)}
    for i, v in enumerate(values):
        if not isinstance(v, dict) or set(v) - known:
            raise ConfigError(
                f"{where}: monitor.contacts[{i}] must be a mapping with keys among {sorted(known)}"
            )
        rule = {k: (tuple(str(x) for x in v[k] or ()) if k in ("webhooks", "emails") else v[k])
                for k in v}  # fmt: skip
        if not rule.get("webhooks") and not rule.get("emails"):
            raise ConfigError(f"{where}: monitor.contacts[{i}] has no webhooks and no emails")
        out.append(Contact(**rule))
    return tuple(out)


# Composite defaults of the scorecards (docs/methodology.md): floor = value scoring 0, target =
# value scoring 1 (floor > target for KPIs where lower is better), weight within its pillar.
SCORECARD_KPI_DEFAULTS: dict[str, dict[str, float]] = {
    "one_visit_rate": {"floor": 0.5, "target": 0.95, "weight": 1.0},
    "zero_visit_rate": {"floor": 0.1, "target": 0.8, "weight": 1.0},
    "on_time_rate": {"floor": 0.6, "target": 0.98, "weight": 2.0},
    "time_limit_compression": {"floor": 0.0, "target": 0.6, "weight": 1.0},
    "overdue_backlog_share": {"floor": 0.4, "target": 0.0, "weight": 1.0},
    "wait_within_w_rate": {"floor": 0.4, "target": 0.95, "weight": 1.0},
    "wait_p90_minutes": {"floor": 60.0, "target": 10.0, "weight": 0.0},
    "online_share": {"floor": 0.1, "target": 0.8, "weight": 1.0},
    "satisfaction_mean": {"floor": 3.0, "target": 4.7, "weight": 1.0},
    "good_review_rate": {"floor": 0.4, "target": 0.95, "weight": 1.0},
    "bad_review_rate": {"floor": 0.3, "target": 0.0, "weight": 1.0},
    "rating_coverage": {"floor": 0.1, "target": 0.8, "weight": 0.0},
    "lagging_step_share": {"floor": 0.5, "target": 0.0, "weight": 1.0},
    "repeat_contact_rate": {"floor": 0.2, "target": 0.0, "weight": 1.0},
    "handoffs_per_case": {"floor": 2.0, "target": 0.0, "weight": 1.0},
}
SCORECARD_PILLAR_DEFAULTS: dict[str, float] = {
    "visit_once": 0.25,
    "timeliness": 0.30,
    "access": 0.15,
    "experience": 0.20,
    "process": 0.10,
}
SCORECARD_BAND_DEFAULTS: dict[str, float] = {"A": 85.0, "B": 75.0, "C": 65.0, "D": 55.0}
BANDS: tuple[str, ...] = ("A", "B", "C", "D", "E")


def _merged(defaults: dict[str, Any], given: dict[str, Any] | None, where: str) -> dict[str, Any]:
    mapping: dict[str, Any] = dict(given or {})
    bad = set(mapping) - set(defaults)
    if bad:
        raise ConfigError(
            f"scorecards.{where}: unknown key(s) {sorted(bad)}; known: {sorted(defaults)}"
        )
    out: dict[str, Any] = {}
    for k, v in defaults.items():
        if isinstance(v, dict):
            extra = set(mapping.get(k) or {}) - set(v)
            if extra:
                raise ConfigError(
                    f"scorecards.{where}.{k}: unknown key(s) {sorted(extra)}; known: {sorted(v)}"
                )
            mine: dict[str, Any] = mapping.get(k) or {}
            base: dict[str, float] = v
            out[k] = {kk: float(mine.get(kk, base[kk])) for kk in base}
        else:
            out[k] = float(mapping.get(k, v))
    return out


@dataclass(frozen=True)
class ScorecardsConfig:
    """Department scorecards (visitonce.scorecard; method in docs/methodology.md).

    The office owns these keys in its YAML (section ``scorecards``); a partial ``kpis`` /
    ``pillars`` / ``bands`` mapping overrides only the keys it names (the rest keep the
    defaults above), and the merged values are what the config hash covers.
    """

    # Base period (month | quarter | year) and the roll-ups computed beside it.
    grain: str = "month"
    rollups: tuple[str, ...] = ("quarter", "year")
    # Counter waiting KPI: share of contact steps served within this many minutes.
    wait_minutes: float = 15.0
    # A known citizen's application for the same item within this many days is a repeat contact.
    repeat_days: int = 30
    # kpi -> {floor, target, weight}; pillar -> weight; band -> lowest score of the band.
    kpis: dict[str, dict[str, float]] = field(default_factory=dict)
    pillars: dict[str, float] = field(default_factory=dict)
    bands: dict[str, float] = field(default_factory=dict)
    # Non-compensatory gates: [{kpi, above | below, cap}]: when the department's shrunk
    # observed value of kpi is above (below) the threshold, its band is at best ``cap``.
    gates: tuple[dict[str, Any], ...] = (
        {"kpi": "overdue_backlog_share", "above": 0.25, "cap": "C"},
    )
    # Monte Carlo over the KPI posteriors (seeded numpy): draws and seed.
    mc_draws: int = 2000
    seed: int = 20260301
    # Weight sensitivity: Dirichlet perturbations of the pillar weights around the configured
    # ones (concentration x weight), and how many.
    sensitivity_draws: int = 200
    sensitivity_concentration: float = 50.0
    # Equity groups with a denominator below k are flagged small_group (never dropped).
    min_group: int = 10
    # Floor of the between-department variance, as a share of the raw mean squared residual.
    tau_floor: float = 0.1
    # A department scored on fewer KPIs with data than this gets a score but no band (a
    # 311 export without ratings, visits or time limits cannot rate anyone A-E).
    min_kpis_for_band: int = 5
    # A department-period with fewer applications than this (or fewer KPIs with data than
    # min_kpis_for_band) gets no score, rank or band: it is listed with its counts as
    # "too few cases".
    min_applications: int = 20
    # Funnel limits widened for over-dispersion (Spiegelhalter 2005): additive (random-effects
    # variance), multiplicative (phi) or none (raw binomial / normal limits).
    funnel_overdispersion: str = "additive"

    def __post_init__(self) -> None:
        object.__setattr__(self, "kpis", _merged(SCORECARD_KPI_DEFAULTS, self.kpis, "kpis"))
        object.__setattr__(
            self, "pillars", _merged(SCORECARD_PILLAR_DEFAULTS, self.pillars, "pillars")
        )
        object.__setattr__(self, "bands", _merged(SCORECARD_BAND_DEFAULTS, self.bands, "bands"))
        object.__setattr__(self, "rollups", tuple(str(r) for r in self.rollups or ()))
        gates = tuple(dict(g) for g in self.gates or ())
        object.__setattr__(self, "gates", gates)
        bad = []
        grains = ("month", "quarter", "year")
        if self.grain not in grains or any(r not in grains for r in self.rollups):
            bad.append("grain/rollups (month, quarter, year)")
        if self.wait_minutes <= 0:
            bad.append("wait_minutes")
        if self.repeat_days < 1:
            bad.append("repeat_days")
        if self.mc_draws < 100 or self.sensitivity_draws < 0:
            bad.append("mc_draws (>= 100) / sensitivity_draws")
        if self.min_group < 1 or self.sensitivity_concentration <= 0:
            bad.append("min_group / sensitivity_concentration")
        if not 0 <= self.tau_floor <= 1:
            bad.append("tau_floor")
        if self.min_kpis_for_band < 1:
            bad.append("min_kpis_for_band (>= 1)")
        if self.min_applications < 1:
            bad.append("min_applications (>= 1)")
        if self.funnel_overdispersion not in ("additive", "multiplicative", "none"):
            bad.append("funnel_overdispersion (additive, multiplicative or none)")
        for k, v in self.kpis.items():
            if v["floor"] == v["target"] or v["weight"] < 0:
                bad.append(f"kpis.{k} (floor != target, weight >= 0)")
        if self.kpis["wait_p90_minutes"]["weight"] != 0:
            bad.append("kpis.wait_p90_minutes.weight (a quantile has no posterior: keep 0)")
        if any(w < 0 for w in self.pillars.values()) or sum(self.pillars.values()) <= 0:
            bad.append("pillars (weights >= 0, not all 0)")
        cut = [self.bands[b] for b in BANDS[:-1]]
        if cut != sorted(cut, reverse=True) or len(set(cut)) != len(cut):
            bad.append("bands (A > B > C > D)")
        for g in gates:
            ok = (
                set(g) in ({"kpi", "above", "cap"}, {"kpi", "below", "cap"})
                and g["kpi"] in self.kpis
                and g["cap"] in BANDS
            )
            if not ok:
                bad.append(f"gates ({g}: {{kpi, above | below, cap A-E}})")
        if bad:
            raise ConfigError(
                f"scorecards: out-of-range value(s) for {', '.join(bad)} "
                "(see docs/methodology.md for the keys)"
            )


@dataclass(frozen=True)
class DemandConfig:
    """Demand and resource planning (visitonce.demand; method in docs/methodology-demand.md)."""

    # Staffing target: this share of counter arrivals served within target_wait_minutes.
    service_level: float = 0.8
    target_wait_minutes: float = 15.0
    # Trends compare the last period_days of the data with the period_days before them.
    period_days: int = 28
    # The forecast is judged on the last holdout_days (held out from fitting), then refitted on
    # everything and run horizon_days past the data.
    holdout_days: int = 28
    horizon_days: int = 14
    # Groups (items, segments, cells) with fewer observations are reported with small_n true,
    # never dropped: small groups must surface.
    min_group: int = 20
    # Rostered official minutes per minute of counter service (officials on duty also prepare
    # files, do back-office work, rest): Erlang-C runs on service time x this factor. 1.0: the
    # roster counts pure counter servers. None: calibrated from the data, as the median
    # centre's factor at which its Erlang-C need equals its roster (visitonce.demand.staffing).
    official_time_factor: float | None = None
    max_servers: int = 500

    def __post_init__(self) -> None:
        checks = {
            "service_level": 0.0 < self.service_level < 1.0,
            "target_wait_minutes": self.target_wait_minutes >= 0.0,
            "period_days": self.period_days >= 1,
            "holdout_days": self.holdout_days >= 7,
            "horizon_days": self.horizon_days >= 1,
            "min_group": self.min_group >= 1,
            "official_time_factor": self.official_time_factor is None
            or self.official_time_factor > 0,
            "max_servers": self.max_servers >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(
                f"demand: out-of-range value(s) for {', '.join(bad)} "
                "(see docs/methodology-demand.md for the ranges)"
            )


# the report's languages (visitonce.report.i18n.LANGUAGES; not imported: config stays light)
REPORT_LANGUAGES = ("en", "zh-CN")


def with_report_language(config: Config, language: str | None) -> Config:
    """``config`` with ``reports.language`` set (a --lang option); unchanged for None."""
    if language is None:
        return config
    return dataclasses.replace(
        config, reports=dataclasses.replace(config.reports, language=language)
    )


@dataclass(frozen=True)
class ReportsConfig:
    """HTML reports and exports (visitonce.report)."""

    # Small-cell suppression in published exports: a scorecard of fewer than k applications,
    # or an area code shared by fewer than k requests, is blanked.
    k_suppress: int = 10
    # Bundles listed on the bundles page (ranked by visits saved), and items in its matrix.
    top_bundles: int = 200
    matrix_items: int = 20
    # Write applications as Open311 GeoReport v2 requests (reports/exports/requests.json).
    export_requests: bool = True
    # Language of the pages, their charts and the CSV exports' encoding: en | zh-CN (a CSV is
    # UTF-8 with BOM in zh-CN, for Excel). Column names of tables and exports never change.
    language: str = "en"

    def __post_init__(self) -> None:
        if self.language not in REPORT_LANGUAGES:
            raise ConfigError(
                f"reports.language: unknown language {self.language!r}; use one of "
                f"{', '.join(REPORT_LANGUAGES)}"
            )
        bad = [
            k
            for k, ok in {
                "k_suppress": self.k_suppress >= 1,
                "top_bundles": self.top_bundles >= 1,
                "matrix_items": 2 <= self.matrix_items <= 60,
            }.items()
            if not ok
        ]
        if bad:
            raise ConfigError(
                f"reports: out-of-range value(s) for {', '.join(bad)} "
                "(k_suppress >= 1, top_bundles >= 1, 2 <= matrix_items <= 60)"
            )


@dataclass(frozen=True)
class OutputConfig:
    """How tables are written (visitonce.io.write_table)."""

    # Target size of a written Parquet file, in MiB: a table or partition smaller than this is
    # one file, a larger one is split into files of about this size (at most; see io.py for
    # how rows and shuffle bytes are turned into file sizes).
    target_file_mb: float = 128.0

    def __post_init__(self) -> None:
        if not 1.0 <= self.target_file_mb <= 4096.0:
            raise ConfigError(
                f"output.target_file_mb: {self.target_file_mb} is out of range; use 1 to 4096 "
                "(MiB; 128 suits HDFS blocks and object stores)"
            )


@dataclass(frozen=True)
class Config:
    """The whole run configuration."""

    ingest: IngestConfig = field(default_factory=IngestConfig)
    calendar: CalendarConfig = field(default_factory=CalendarConfig)
    lagging: LaggingConfig = field(default_factory=LaggingConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    bundles: BundlesConfig = field(default_factory=BundlesConfig)
    demand: DemandConfig = field(default_factory=DemandConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    scorecards: ScorecardsConfig = field(default_factory=ScorecardsConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

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
    sections = {
        "ingest": IngestConfig,
        "calendar": CalendarConfig,
        "bundles": BundlesConfig,
        "lagging": LaggingConfig,
        "monitor": MonitorConfig,
        "demand": DemandConfig,
        "reports": ReportsConfig,
        "scorecards": ScorecardsConfig,
        "output": OutputConfig,
    }
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
        if name == "bundles":
            for key in ("segments", "strata"):
                if key in values:
                    values[key] = tuple(str(c) for c in values[key] or ())
            for key in ("place_size_bands", "place_item_bands"):
                if key in values:
                    values[key] = tuple(int(b) for b in values[key] or ())
        if name == "monitor":
            if "contacts" in values:
                values["contacts"] = contacts_from(values["contacts"], f"{p}")
            if "live_window_minutes" in values:
                values["live_window_minutes"] = tuple(
                    int(m) for m in values["live_window_minutes"] or ()
                )
        if name == "monitor" and float(values.get("false_alarms_per_centre_week", 1.0)) <= 0:
            raise ConfigError(
                f"config file {p}: monitor.false_alarms_per_centre_week must be > 0 (e.g. 1)"
            )
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
