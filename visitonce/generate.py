"""Synthetic service logs of a "Visit Once" city, with the truth planted in them.

``generate(out_dir)`` simulates one city's digitized government-service logs for a period
(default: March 2026, Asia/Shanghai) and writes them in the input contract v1 (DESIGN.md §3):

- ``events/part-00000.<csv|jsonl|parquet>``, ``part-00001…``: one row per step of an
  application, columns ``columns.EVENT_COLUMNS`` in that order, every value a string (missing
  values are empty in CSV, ``null`` in JSON Lines and Parquet). Parts are written one chunk at a
  time (about ``chunk_events`` rows, whole applications per chunk, each part spanning the whole
  period), so memory stays bounded for 10M+ events. Rows in a part are ordered by ``started_at``.
- ``catalog.csv``: ``columns.CATALOG_COLUMNS``; 46 service items of 14 departments.
- ``roster.csv``: ``columns.ROSTER_COLUMNS`` (date, department, officials_on_duty, center). One
  row per unit that works that day: the desks a department staffs in a service centre (every day,
  fewer on weekends) and its back office (``center`` empty; Monday to Friday, every day for the
  12345 hotline centre). A unit absent on a date was closed that date.
- ``truth.json``: what was planted, for tests of the analytics (keys below).

The simulated city
------------------
Individuals (``P0001234``; five age bands; eight district codes) and enterprises (``E000123``;
no age band) apply for catalog items; anonymous hotline callers have an empty ``citizen_id`` and
``citizen_type``. An application has 2-5 steps (accept, review, inspect, approve, deliver, and
possibly a supplement; hotline reports: accept, dispatch, handle, feedback), some handled by
another department than the item's (hand-offs). The 12345 ``hotline_center`` is a 15th
department: it appears in events and roster but owns no catalog item.

Channels. The first step's channel follows a digital divide (the older the applicant, the more
``counter``; enterprises mostly ``online``); place-based reports come by ``hotline`` (some by
``mobile``) and carry a ``location`` grid key. A *contact step* happens in a centre, in person:
``physical_visit`` true, ``center`` set, channel ``counter`` or ``self_service`` (kiosks have no
``official``), and ``arrived_at`` (the queue ticket) before ``started_at`` (empty only for an
open pickup whose applicant has not come yet). Contact steps are the first steps of counter and
kiosk applications, ``supplement`` steps (another trip on a later day for missing materials)
and ``deliver`` steps collected in person (a second trip, or the same visit for same-day
items). Every other step is back-office work: ``physical_visit`` false, no centre, and the
application's channel (``mail`` for a delivery by post).

Calendars (local time). Counters open 08:30-17:30 on weekdays, 09:00-16:00 on weekends. Back
offices work Monday to Friday 08:30-17:30. A back-office step's hand-off and processing run in
the working time of its calendar: the back-office one; the counters' opening hours for
same-day items (``time_limit_days`` 0) applied for in person and for the field work and
call-backs of hotline reports; round the clock for dispatching hotline reports and for same-day
items applied for remotely (automated). Waiting and desk service are wall-clock times.

Durations are lognormal around means that grow with workload, the only driver besides the
planted effects. For a step of department ``d`` on date ``t``:

- waiting (``started_at - arrived_at``) ~ ``L_desk ** 1.5 * H``, where ``L_desk`` is the
  planned number of contact steps at the desk (d, centre, t) per official on duty there (the
  roster row), relative to the city's weekday average, and ``H`` the centre's arrival intensity
  in that half hour relative to its daily mean (peak hours, queue spike);
- processing (``ended_at - started_at``) ~ ``L_back ** 0.5`` (``L_desk ** 0.3`` at a desk) and
  hand-off (gap after the previous step) ~ ``L_back ** 1.0``, where ``L_back`` is the planned
  number of back-office steps of department d on date t per official on duty in the department,
  relative to the city's weekday average; back-office processing is 10% slower on Mondays.
- Means also scale with the item's complexity (``0.6 + 0.2 * complexity``), the step kind, a
  1.5x factor for hand-offs between departments, ``department_quality`` and the planted lags,
  all in working time. Same-day items take minutes.

An application is due ``time_limit_days`` working days (Monday to Friday) after the day it was
applied for (a weekend application counts from Monday) and late if its last step ends after
that day. Satisfaction (1-5) is given on about 40% of completed applications' final steps
(never by anonymous callers); it falls with the total waiting time, lateness, extra trips and
slower departments.

Open cases: period end is ``start + days`` at 00:00 local. An application still in progress
then has its current step with an empty ``ended_at`` (and ``satisfaction``) and no later steps;
every written valid timestamp is <= period end. A step handed over but not yet started at
period end is written open with ``started_at`` = the hand-over time (it sits in the department's
queue) and no official.

truth.json keys
---------------
- ``period_start``, ``period_end``: ISO 8601 with offset; the period is [start, end).
- ``time_zone``: ``"Asia/Shanghai"``; every timestamp is written with ``+08:00``.
- ``seed``, ``format``: the arguments used.
- ``n_events_valid``: unique valid event rows written (each valid event_id once).
- ``n_rows_written``: all data rows written (lines without headers), dirty rows and duplicates
  included; ``n_rows_written == n_events_valid + sum(dirty.values()) + duplicates["exact"] +
  duplicates["same_event"]``.
- ``n_applications``: distinct applications; ``n_open_applications``: those still open at
  period end (their last written step has an empty ``ended_at``).
- ``bundles``: cross-department life-event bundles; each ``{name, items (sorted), departments
  (sorted), segment (null or {column: value}), n_citizens, window_days, small_group,
  planted_support, planted_support_in_segment}``. Each of the ``n_citizens`` members (drawn from
  the segment) applies for every item of the bundle within ``window_days`` of each other.
  ``planted_support`` is ``n_citizens`` over all citizens with at least one application
  (anonymous callers excluded); ``planted_support_in_segment`` the same within the segment (a
  lower bound for the support found: background applications can complete a basket by chance).
  The ``small_group`` bundle (segment ``{"age_band": "75+"}``) is strong in its segment and
  near 1% support overall.
- ``place_bundles``: related hotline problems reported by different people at the same
  ``location`` within ``window_days``: ``{name, items, departments, n_places, window_days}``;
  each place gets 1-2 reports of every item. Other hotline reports are single reports at
  random grid cells (ten cells per expected report).
- ``multi_report_places`` (null unless ``generate(multi_report_places=True)``): ``{items,
  n_places_per_item, reports_per_place, co_located, independent, n_independent_with_popular}``:
  ``n_places_per_item`` hotspots per item, each with ``reports_per_place`` [min, max] reports of
  that one problem within 3 days; ``co_located`` (a place bundle, also listed in
  ``place_bundles``): the first item's hotspots that also got 1-2 reports of a second problem;
  ``independent``: the first item and a problem reported at 30% of all hotspots whatever their
  problem (at ``n_independent_with_popular`` of the first item's), a popular pair by chance.
- ``independent_popular``: popular items requested independently of each other (co-occurrence
  by chance only: lift about 1).
- ``lagging_steps``: ``[{service_item, step, department, kind, factor}]``: intrinsic slowness of
  one step of one item, not explained by workload: ``kind`` ``processing`` multiplies the mean
  of ``ended_at - started_at``, ``waiting`` that of ``started_at - arrived_at`` and ``handoff``
  that of the gap between the previous step's end and this step's start, by ``factor`` (>= 2.5),
  in working time (see Calendars; wall-clock ratios of multi-day steps come out larger). All
  lagging steps are in departments with ``department_quality`` >= 1.0, outside the understaffed
  department; one is a waiting time, one is in a low-volume item.
- ``small_n_items``: items with a fixed, very small number of applications (< 15).
- ``understaffed``: ``{department, dates, staffing_factor}``: the department's roster (desks and
  back office) is cut to ``staffing_factor`` on those dates; its steps slow down only through
  workload.
- ``department_quality``: ``{department: multiplier}`` on all waiting, processing and hand-off
  times of the department's steps (satisfaction and on-time rates follow); with
  ``quality_via`` ``"experience"`` on satisfaction only, with ``"visits"`` on return trips
  only (supplements and in-person pickups).
- ``quality_via``: ``"time"``, ``"experience"`` or ``"visits"``, the argument used.
- ``queue_spike``: ``{center, date, hours, arrival_factor}``: counter arrivals at the centre are
  multiplied by ``arrival_factor`` in those local hours of that date (waits rise with them);
  null in a quiet ``MonitorVariant`` (``spike_factor`` 1.0).
- ``holiday_week``: dates whose demand a ``MonitorVariant(holiday_week=True)`` cut (else empty).
- ``new_item``: the item a ``MonitorVariant(new_item=...)`` puts live mid-period (its
  ``service_item``, ``department``, ``live_from`` date), else null.
- ``peak_hours``: ``{center: [h1, h2]}``: the two busiest local hours of counter arrivals of each
  centre (their arrival intensity is twice that of other open hours).
- ``understaffed_center``: ``{center, staffing_factor, shortfall_officials}``: the centre's desks
  are staffed at ``staffing_factor`` of their need every day; ``shortfall_officials`` officials
  are missing on a normal weekday (summed over its desks).
- ``workload_elasticity``: the exponents above, ``{"waiting": 1.5, "processing": 0.5,
  "handoff": 1.0}``.
- ``dirty``: ``{reason: n}`` for every ``columns.Reason`` code that applies to events: extra
  rows, each a copy of a valid row with a new unique ``event_id`` and exactly one defect, so
  that it trips that reason and no other. ``malformed_row``: CSV, a line with an extra unquoted
  field (an unquoted comma in ``location``); JSON Lines, a truncated line; Parquet, none.
  ``missing_required``: one of application_id, service_item, department, channel, step,
  started_at blank. ``bad_timestamp``: one timestamp non-empty and unparseable.
  ``bad_vocabulary``: channel ``fax`` or citizen_type ``robot``. ``bad_satisfaction``: ``7``,
  ``0`` or ``good``. ``bad_boolean``: physical_visit ``maybe``. ``end_before_start``,
  ``arrival_after_start``: by one minute to one hour. ``future_timestamp``: ended_at moved
  about 73 years ahead. ``unknown_service_item``: ``OLD_<code>``. ``dirty_event_ids``:
  ``{reason: [event_id, ...]}``.
- ``duplicates``: ``{exact: n, same_event: n}``; ``exact`` rows are identical copies of valid
  rows; ``same_event`` rows are copies of closed valid rows with the same event_id and empty
  ``ended_at`` and ``satisfaction`` (an earlier export of the step while it was open).
  ``duplicate_event_ids``: ``{exact: [...], same_event: [...]}``.

Everything is a pure function of the arguments: the same arguments give byte-identical files.
The CSV and JSON Lines variants write identical valid rows (the Parquet variant too); only the
malformed lines differ.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from visitonce import columns as col
from visitonce.columns import Reason

__all__ = ["generate"]

Format = Literal["csv", "jsonl", "parquet"]
FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet")
TIME_ZONE = "Asia/Shanghai"
UTC_OFFSET = "+08:00"
_TZ = timezone(timedelta(hours=8))  # Asia/Shanghai has had no DST since 1991

_DAY = 86_400
_BIN = 1_800  # arrival profiles are in half hours
_N_BINS = 48
_MIN = 60.0
_MAX_STEPS = 5

# --- the city ---------------------------------------------------------------------------------
_DEPARTMENTS: tuple[str, ...] = (
    "real_estate",
    "housing",
    "tax",
    "public_security",
    "health",
    "medical_insurance",
    "social_security",
    "market_regulation",
    "civil_affairs",
    "transport",
    "urban_management",
    "environment",
    "provident_fund",
    "water",
    "hotline_center",  # the 12345 citizen hotline: accepts, dispatches and closes reports
)
_HOTLINE_DEPT = _DEPARTMENTS.index("hotline_center")
# Duration multipliers: the overall speed of each department (planted, in truth.json).
_DEPARTMENT_QUALITY: dict[str, float] = {
    "real_estate": 1.0,
    "housing": 1.1,
    "tax": 0.75,
    "public_security": 1.0,
    "health": 0.9,
    "medical_insurance": 1.2,
    "social_security": 1.0,
    "market_regulation": 0.7,
    "civil_affairs": 1.4,
    "transport": 1.3,
    "urban_management": 1.25,
    "environment": 1.15,
    "provident_fund": 0.85,
    "water": 0.95,
    "hotline_center": 0.8,
}
# What department_quality acts on (generate's quality_via): its weight in the satisfaction
# score; "time" also multiplies every waiting, processing and hand-off time by the quality.
# "visits" acts on neither directly: a poorer department asks more applicants to come back with
# missing materials and to collect results in person (x quality^2), and ratings follow the visits.
_QUALITY_VIA: dict[str, float] = {"time": 1.0, "experience": 2.0, "visits": 0.0}
_CENTERS: tuple[str, ...] = ("C01", "C02", "C03", "C04", "C05")
_CITY_HALL = 0  # C01 hosts every department's desk; district centres host the busy ones
_DISTRICT_CENTER_DEPTS = (
    "real_estate",
    "tax",
    "public_security",
    "medical_insurance",
    "social_security",
    "civil_affairs",
    "provident_fund",
)
_DISTRICTS: tuple[str, ...] = (
    "330102",
    "330105",
    "330106",
    "330108",
    "330109",
    "330110",
    "330111",
    "330112",
)
_DISTRICT_WEIGHTS = np.array([0.10, 0.14, 0.14, 0.12, 0.16, 0.16, 0.09, 0.09])
_DISTRICT_HOME = np.array([0, 0, 1, 1, 2, 3, 4, 4])  # each district's nearest centre
_AGE_BANDS: tuple[str, ...] = ("18-29", "30-44", "45-59", "60-74", "75+")
_AGE_WEIGHTS = np.array([0.19, 0.30, 0.27, 0.17, 0.07])
_G_ENT, _G_ANON = 5, 6  # applicant groups: 0-4 age bands, 5 enterprise, 6 anonymous caller

_STEPS: tuple[str, ...] = (
    "accept",
    "review",
    "inspect",
    "approve",
    "deliver",
    "supplement",
    "dispatch",
    "handle",
    "feedback",
)
_S = {name: i for i, name in enumerate(_STEPS)}

_CH = {name: i for i, name in enumerate(col.CHANNELS)}
_COUNTER, _ONLINE, _MOBILE, _HOTLINE = _CH["counter"], _CH["online"], _CH["mobile"], _CH["hotline"]
_SELF, _MAIL = _CH["self_service"], _CH["mail"]
# First-step channel by applicant group (rows) over col.CHANNELS (columns): the digital divide.
_CHANNEL_PROBS = np.array(
    [
        # counter online mobile hotline self mail other
        [0.10, 0.30, 0.50, 0.0, 0.06, 0.02, 0.02],  # 18-29
        [0.16, 0.34, 0.40, 0.0, 0.06, 0.02, 0.02],  # 30-44
        [0.36, 0.26, 0.24, 0.0, 0.08, 0.03, 0.03],  # 45-59
        [0.60, 0.12, 0.12, 0.0, 0.08, 0.05, 0.03],  # 60-74
        [0.80, 0.04, 0.04, 0.0, 0.04, 0.05, 0.03],  # 75+
        [0.15, 0.60, 0.16, 0.0, 0.04, 0.03, 0.02],  # enterprise
        [0.00, 0.00, 0.00, 1.0, 0.00, 0.00, 0.00],  # anonymous caller
    ]
)
_PLACE_MOBILE_SHARE = 0.15  # identified reporters who report a place problem in the mobile app

_IND, _ENT, _SENIOR, _PLACE = 0, 1, 2, 3  # who applies for an item


@dataclass(frozen=True)
class _Item:
    code: str
    name: str
    department: str
    complexity: int
    time_limit_days: int
    online_capable: bool
    eligible: int
    weight: float  # background popularity; 0 = only planted applications
    steps: tuple[tuple[str, str], ...]  # (step, department)


def _item(
    code: str,
    name: str,
    dept: str,
    cx: int,
    limit: int,
    online: bool,
    eligible: int,
    weight: float,
    steps: str,
) -> _Item:
    """One catalog item; ``steps`` like ``"accept review@health approve"``."""
    parsed = []
    for token in steps.split():
        name_, _, other = token.partition("@")
        parsed.append((name_, other or dept))
    return _Item(code, name, dept, cx, limit, online, eligible, weight, tuple(parsed))


_A3 = "accept review approve"
_A4 = "accept review approve deliver"
_PLACE_STEPS = "accept@hotline_center dispatch@hotline_center handle feedback@hotline_center"

_ITEMS: tuple[_Item, ...] = (
    # buying a house
    _item("RE_REG", "不动产转移登记", "real_estate", 3, 5, True, _IND, 1.2, _A4),
    _item("HOUS_FILING", "商品房买卖合同备案", "housing", 2, 3, True, _IND, 0.3, _A3),
    _item("TAX_DEED", "契税申报缴纳", "tax", 2, 2, True, _IND, 0.4, _A3),
    # a newborn
    _item("HEALTH_BIRTH_CERT", "出生医学证明", "health", 1, 0, False, _IND, 0.05,
          "accept approve deliver"),
    _item("PSB_HUKOU_BIRTH", "新生儿户口登记", "public_security", 2, 3, True, _IND, 0.05,
          "accept review@health approve"),
    _item("MED_NEWBORN", "新生儿医保参保登记", "medical_insurance", 1, 0, True, _IND, 0.05,
          "accept approve"),
    # opening a business
    _item("AMR_LICENSE", "企业设立登记", "market_regulation", 3, 4, True, _ENT, 0.3, _A4),
    _item("TAX_REG", "新办纳税人涉税事项", "tax", 2, 2, True, _ENT, 0.3, _A3),
    _item("HRSS_UNIT_REG", "单位社会保险登记", "social_security", 2, 2, True, _ENT, 0.3,
          "accept approve"),
    _item("PSB_SEAL", "印章刻制备案", "public_security", 1, 3, True, _ENT, 0.2,
          "accept approve deliver"),
    # old age (the small-group bundle)
    _item("CA_ELDER_ALLOW", "高龄津贴申领", "civil_affairs", 1, 2, False, _SENIOR, 0.25, _A3),
    _item("MED_LTC_ASSESS", "长期护理保险失能评估", "medical_insurance", 3, 5, False, _SENIOR,
          0.25, "accept review inspect approve"),
    _item("TRANS_SENIOR_CARD", "老年人公交卡办理", "transport", 1, 4, False, _SENIOR, 0.25,
          "accept approve deliver"),
    # popular, requested independently
    _item("PSB_ID_RENEW", "居民身份证换领", "public_security", 1, 5, False, _IND, 4.0, _A4),
    _item("HRSS_SOCSEC_CERT", "社保参保证明打印", "social_security", 1, 0, True, _IND, 4.0,
          "accept deliver"),
    _item("FUND_WITHDRAW", "住房公积金提取", "provident_fund", 1, 2, True, _IND, 3.5, _A3),
    _item("MED_REIMBURSE", "医疗费用零星报销", "medical_insurance", 2, 3, True, _IND, 3.0, _A3),
    # the rest of the catalog
    _item("RE_MORTGAGE", "不动产抵押登记", "real_estate", 2, 3, True, _IND, 1.5, _A3),
    _item("PSB_RESIDENCE", "居住证申领", "public_security", 2, 5, True, _IND, 2.0, _A4),
    _item("PSB_HUKOU_MOVE", "户口迁移", "public_security", 3, 3, True, _IND, 0.8, _A3),
    _item("CA_MARRIAGE", "婚姻登记", "civil_affairs", 1, 0, False, _IND, 0.8,
          "accept approve deliver"),
    _item("HRSS_UNEMPLOY", "失业保险金申领", "social_security", 2, 3, True, _IND, 1.5, _A3),
    _item("HRSS_PENSION", "城乡居民养老保险待遇申领", "social_security", 2, 3, True, _SENIOR,
          0.8, _A3),
    _item("HRSS_SKILL_CERT", "职业技能等级证书", "social_security", 2, 5, True, _IND, 0.6, _A4),
    _item("HRSS_CARD", "社会保障卡补换", "social_security", 1, 3, True, _IND, 1.5,
          "accept approve deliver"),
    _item("MED_TRANSFER", "医保关系转移接续", "medical_insurance", 2, 3, True, _IND, 0.8, _A3),
    _item("AMR_FOOD_LICENSE", "食品经营许可证", "market_regulation", 3, 5, True, _ENT, 0.6,
          "accept review inspect approve deliver"),
    _item("AMR_CHANGE", "企业变更登记", "market_regulation", 2, 2, True, _ENT, 1.0, _A3),
    _item("TAX_INVOICE", "发票申领", "tax", 1, 0, True, _ENT, 1.5, "accept approve"),
    _item("TAX_IIT_REFUND", "个人所得税退税", "tax", 1, 2, True, _IND, 1.0, _A3),
    _item("HOUS_RENT_SUBSIDY", "公共租赁住房申请", "housing", 4, 6, True, _IND, 0.5,
          "accept review@civil_affairs inspect approve"),
    _item("TRANS_TAXI_PERMIT", "网约车驾驶员证", "transport", 3, 6, True, _IND, 0.4,
          "accept review@public_security approve deliver"),
    _item("TRANS_ROAD_PERMIT", "道路运输经营许可", "transport", 3, 5, True, _ENT, 0.5, _A4),
    _item("FUND_LOAN", "住房公积金贷款", "provident_fund", 3, 3, True, _IND, 1.0, _A3),
    _item("CA_DISABILITY", "残疾人证申领", "civil_affairs", 3, 5, False, _IND, 0.3,
          "accept review@health inspect approve"),
    _item("WATER_CONNECT", "用水报装", "water", 2, 3, True, _ENT, 0.5, "accept inspect approve"),
    _item("URB_SHOP_SIGN", "店招店牌设置", "urban_management", 2, 3, True, _ENT, 0.4, _A3),
    # small-n items: a fixed handful of applications (see _SMALL_N)
    _item("HOUS_CONSTR_PERMIT", "建筑工程施工许可", "housing", 5, 5, True, _ENT, 0.0,
          "accept review@real_estate inspect approve"),
    _item("ENV_EIA", "建设项目环评审批", "environment", 5, 6, True, _ENT, 0.0,
          "accept review inspect approve"),
    _item("HEALTH_CLINIC_LICENSE", "医疗机构执业许可", "health", 5, 8, False, _ENT, 0.0,
          "accept review inspect approve deliver"),
    # place-based reports to the 12345 hotline
    _item("URB_ROAD_DAMAGE", "道路破损报修", "urban_management", 1, 2, True, _PLACE, 0.8,
          _PLACE_STEPS),
    _item("WATER_PIPE_LEAK", "供水管道漏水", "water", 1, 2, True, _PLACE, 0.6, _PLACE_STEPS),
    _item("ENV_NOISE", "噪声扰民投诉", "environment", 1, 2, True, _PLACE, 0.9, _PLACE_STEPS),
    _item("URB_NIGHT_WORK", "夜间违规施工", "urban_management", 1, 2, True, _PLACE, 0.5,
          _PLACE_STEPS),
    _item("URB_STREETLIGHT", "路灯故障报修", "urban_management", 1, 2, True, _PLACE, 0.7,
          _PLACE_STEPS),
    _item("URB_PARKING", "违章停车投诉", "urban_management", 1, 2, True, _PLACE, 1.0,
          _PLACE_STEPS),
)  # fmt: skip
_ITEM = {it.code: i for i, it in enumerate(_ITEMS)}

_SMALL_N = {"HOUS_CONSTR_PERMIT": 12, "ENV_EIA": 9, "HEALTH_CLINIC_LICENSE": 6}
_INDEPENDENT_POPULAR = ("PSB_ID_RENEW", "HRSS_SOCSEC_CERT", "FUND_WITHDRAW", "MED_REIMBURSE")


@dataclass(frozen=True)
class _Bundle:
    name: str
    items: tuple[str, ...]
    pool: str  # "adult", "parent", "enterprise", "75+": who the members are
    segment: dict[str, str] | None
    rate: float  # members per application in the city
    window_days: int
    small_group: bool = False


_BUNDLES: tuple[_Bundle, ...] = (
    _Bundle("buying_a_house", ("RE_REG", "HOUS_FILING", "TAX_DEED"), "adult", None, 0.020, 14),
    _Bundle("newborn", ("HEALTH_BIRTH_CERT", "PSB_HUKOU_BIRTH", "MED_NEWBORN"), "parent", None,
            0.012, 15),
    _Bundle("opening_a_business", ("AMR_LICENSE", "TAX_REG", "HRSS_UNIT_REG", "PSB_SEAL"),
            "enterprise", {"citizen_type": "enterprise"}, 0.015, 10),
    _Bundle("old_age_care", ("CA_ELDER_ALLOW", "MED_LTC_ASSESS", "TRANS_SENIOR_CARD"), "75+",
            {"age_band": "75+"}, 0.0065, 14, small_group=True),
)  # fmt: skip
_PLACE_BUNDLES = (
    ("burst_water_main", ("URB_ROAD_DAMAGE", "WATER_PIPE_LEAK"), 3),
    ("night_construction", ("ENV_NOISE", "URB_NIGHT_WORK"), 3),
)
_PLACE_BUNDLE_RATE = 0.0012  # places per application in the city
# Multi-report places (generate(multi_report_places=True)): busy buildings where one problem
# draws many reports (like a building without heat). The first item is the popular one; its
# hotspots also get the co-located problem, and every hotspot gets the independent one by
# chance alone. Truth: "multi_report_places".
_HOTSPOT_ITEMS = ("URB_PARKING", "ENV_NOISE", "WATER_PIPE_LEAK")
_HOTSPOT_CO_ITEM = "URB_STREETLIGHT"
_HOTSPOT_INDEPENDENT_ITEM = "URB_ROAD_DAMAGE"
_HOTSPOT_RATE = 0.004  # hotspots of each item per application in the city
_HOTSPOT_REPORTS = (5, 16)  # reports of the hotspot's problem: 5 to 15
_HOTSPOT_CO_SHARE = 0.4  # of the popular item's hotspots
_HOTSPOT_INDEPENDENT_SHARE = 0.3  # of every hotspot
_ANONYMOUS_SHARE = 0.4  # hotline callers who give no identity

# (item, step, kind, factor): intrinsic slowness not explained by workload
_LAGS: tuple[tuple[str, str, str, float], ...] = (
    ("RE_REG", "review", "processing", 3.0),
    ("HOUS_FILING", "approve", "handoff", 3.0),
    ("PSB_ID_RENEW", "accept", "waiting", 3.0),
    ("TRANS_TAXI_PERMIT", "approve", "processing", 3.5),  # a low-volume item
)
_UNDERSTAFFED_DEPT = "social_security"
_UNDERSTAFFED_FACTOR = 0.5
_UNDERSTAFFED_CENTER = 3  # C04
_UNDERSTAFFED_CENTER_FACTOR = 0.6
_SPIKE_CENTER = 1  # C02
_SPIKE_HOURS = (14, 15, 16)
_SPIKE_FACTOR = 3.5


@dataclass(frozen=True)
class MonitorVariant:
    """Knobs of the live-monitoring variants (issue 25); the default is the usual city.

    ``spike_factor``: counter arrival multiplier of the planted queue spike (1.0: no spike, a
    quiet month; ``truth["queue_spike"]`` is then null). ``holiday_week``: demand of every
    channel on the days of the week starting on the third Monday is multiplied by
    ``holiday_factor`` (the roster is planned for it, as for a known holiday;
    ``truth["holiday_week"]`` lists the dates). ``new_item``: the code of a catalog item that
    goes live on day ``new_item_day`` of the period: its applications that would have come
    earlier come on or after that day instead, most of them in its first days (a launch surge),
    so its centres see a new level of demand from then on (``truth["new_item"]``).
    ``spike_day``: the spike falls on the first weekday from that day of the period on, outside
    the understaffed week (default: the first Wednesday outside it).
    """

    spike_factor: float = _SPIKE_FACTOR
    holiday_week: bool = False
    holiday_factor: float = 0.4
    new_item: str | None = None
    new_item_day: int = 14
    spike_day: int | None = None


_PEAK_HOURS = ((9, 10), (10, 11), (14, 15), (15, 16), (13, 14))  # per centre
_PEAK_BOOST = 2.0

# Workload elasticities (truth.json "workload_elasticity").
_EL_WAIT, _EL_PROC, _EL_HANDOFF, _EL_DESK_PROC = 1.5, 0.5, 1.0, 0.3

# Mean durations before factors, in seconds (wall-clock at desks, working time in back offices).
_WAIT_MEAN = {_COUNTER: 10 * _MIN, _SELF: 3 * _MIN}
_DESK_PROC_MEAN = {_COUNTER: 7 * _MIN, _SELF: 4 * _MIN}
_BACK_PROC_MEAN = (
    np.array([90, 180, 420, 90, 20, 0, 20, 480, 15], dtype=float) * _MIN
)  # by step kind (accept = online pre-review)
_HANDOFF_MEAN = 90 * _MIN
_HOTLINE_HANDOFF_MEAN = 30 * _MIN
_CROSS_DEPT_HANDOFF = 1.5
_SAME_DAY_SCALE = 0.12  # same-day items: the desk does the back-office steps in minutes
_MONDAY_FACTOR = 1.1
_SUPPLEMENT_BASE = 0.03  # per complexity point; x1.5 for online applications

_DESK_STAFF_TOTAL = 180  # weekday desk officials in the city, shared out by demand
_BACK_STAFF_TOTAL = 420
_ABSENCE = 0.07
_MEETING_DAYS = 0.12

_DIRTY_SHARE = 0.005
_DUPLICATE_SHARE = 0.003
_MIN_PER_KIND = 3
# Every reason an event row can be quarantined for is planted.
_DIRTY_KINDS: tuple[str, ...] = col.EVENT_REASONS
_BAD_TIMESTAMPS = ("2026-02-30T09:00:00+08:00", "yesterday", "2026-13-45T09:00:00+08:00")
_BAD_SATISFACTION = ("7", "0", "good")
_MALFORMED_LOCATION = "Wulin Rd,No.12"  # an unquoted comma: one field too many
_FUTURE_SHIFT_S = 26_663 * _DAY  # about 73 years: 2026 -> 2099

# Random streams: every consumer gets its own, so that, e.g., the output format cannot change
# the valid rows.
_ST_CALENDAR, _ST_PILOT, _ST_ROSTER, _ST_POPULATION, _ST_SPECIAL = 1, 2, 3, 4, 5
_ST_CHUNK, _ST_DIRTY = 10, 11
_ST_HOTSPOTS = 6


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def _lognormal(rng: np.random.Generator, mean: np.ndarray, sigma: float) -> np.ndarray:
    """Lognormal draws with the given means (not medians), so planted factors hold on means."""
    z = rng.standard_normal(len(mean))
    return mean * np.exp(sigma * z - 0.5 * sigma * sigma)


# --- static catalog arrays ----------------------------------------------------------------------
@dataclass(frozen=True)
class _Catalog:
    dept: np.ndarray  # item -> department index
    cx: np.ndarray
    limit: np.ndarray
    online: np.ndarray
    eligible: np.ndarray
    weight: np.ndarray  # normalized background popularity
    place: np.ndarray
    same_day: np.ndarray
    kiosk: np.ndarray  # simple online-capable items are offered on self-service kiosks
    tmpl_kind: np.ndarray  # (items, 5) step kinds, -1 padded
    tmpl_dept: np.ndarray
    tmpl_len: np.ndarray
    supp_pos: np.ndarray  # where a supplement step goes: after the first review, else 1
    supp_p: np.ndarray
    lag_proc: np.ndarray  # (items, steps) factors
    lag_wait: np.ndarray
    lag_handoff: np.ndarray
    quality: np.ndarray  # by department
    hosted: np.ndarray  # (departments, centres): the department has a desk there
    quality_via: str = "time"  # what department_quality acts on: see generate(quality_via=)


def _catalog() -> _Catalog:
    n = len(_ITEMS)
    dept_ix = {d: i for i, d in enumerate(_DEPARTMENTS)}
    tmpl_kind = np.full((n, _MAX_STEPS), -1, dtype=np.int8)
    tmpl_dept = np.full((n, _MAX_STEPS), -1, dtype=np.int8)
    supp_pos = np.ones(n, dtype=np.int8)
    for i, it in enumerate(_ITEMS):
        for k, (step, dept) in enumerate(it.steps):
            tmpl_kind[i, k] = _S[step]
            tmpl_dept[i, k] = dept_ix[dept]
        names = [s for s, _ in it.steps]
        if "review" in names:
            supp_pos[i] = names.index("review") + 1
    cx = np.array([it.complexity for it in _ITEMS], dtype=np.int8)
    place = np.array([it.eligible == _PLACE for it in _ITEMS])
    online = np.array([it.online_capable for it in _ITEMS])
    tmpl_len = (tmpl_kind >= 0).sum(axis=1).astype(np.int8)
    weight = np.array([it.weight for it in _ITEMS])
    lags = {kind: np.ones((n, len(_STEPS))) for kind in ("processing", "waiting", "handoff")}
    for code, step, kind, factor in _LAGS:
        lags[kind][_ITEM[code], _S[step]] = factor
    hosted = np.zeros((len(_DEPARTMENTS), len(_CENTERS)), dtype=bool)
    hosted[:, _CITY_HALL] = True
    hosted[_HOTLINE_DEPT, :] = False
    for d in _DISTRICT_CENTER_DEPTS:
        hosted[dept_ix[d], :] = True
    return _Catalog(
        dept=np.array([dept_ix[it.department] for it in _ITEMS], dtype=np.int8),
        cx=cx,
        limit=np.array([it.time_limit_days for it in _ITEMS], dtype=np.int16),
        online=online,
        eligible=np.array([it.eligible for it in _ITEMS], dtype=np.int8),
        weight=weight / weight.sum(),
        place=place,
        same_day=np.array([it.time_limit_days == 0 for it in _ITEMS]),
        kiosk=online & (cx <= 2) & ~place,
        tmpl_kind=tmpl_kind,
        tmpl_dept=tmpl_dept,
        tmpl_len=tmpl_len,
        supp_pos=supp_pos,
        supp_p=np.where(place | (tmpl_len > 4), 0.0, _SUPPLEMENT_BASE * cx),
        lag_proc=lags["processing"],
        lag_wait=lags["waiting"],
        lag_handoff=lags["handoff"],
        quality=np.array([_DEPARTMENT_QUALITY[d] for d in _DEPARTMENTS]),
        hosted=hosted,
    )


# --- calendars ------------------------------------------------------------------------------------
class _WorkCalendar:
    """Working time on a calendar of daily opening windows (seconds from period start)."""

    def __init__(self, open_start: np.ndarray, open_len: np.ndarray) -> None:
        self.open_start = open_start.astype(float)
        self.open_len = open_len.astype(float)
        self.cum = np.concatenate([[0.0], np.cumsum(self.open_len)])
        self.n = len(open_len)

    def to_work(self, t: np.ndarray) -> np.ndarray:
        d = np.clip((t // _DAY).astype(np.int64), 0, self.n - 1)
        within = np.clip(t - d * _DAY - self.open_start[d], 0.0, self.open_len[d])
        return self.cum[d] + within

    def from_work(self, w: np.ndarray) -> np.ndarray:
        # side="right": a working instant at a day boundary belongs to the next open day
        d = np.clip(np.searchsorted(self.cum, w, side="right") - 1, 0, self.n - 1)
        return d * _DAY + self.open_start[d] + (w - self.cum[d])

    def add(self, t: np.ndarray, work: np.ndarray) -> np.ndarray:
        """The wall-clock time ``work`` working seconds after ``t``."""
        return self.from_work(self.to_work(t) + work)


_CAL_BACK, _CAL_DESK, _CAL_24H = 0, 1, 2


@dataclass
class _Time:
    """Calendar, demand profiles and calendars of the period."""

    start: date
    days: int
    end_s: float  # period end in seconds from period start
    weekday: np.ndarray  # per day of the extended calendar (0 = Monday)
    daytype: np.ndarray  # 0 weekday, 1 Saturday, 2 Sunday
    day_cdf: np.ndarray  # (classes, days): cumulative day weights per channel class
    day_weight: np.ndarray  # (classes, days): normalized to mean 1
    tod_cdf: np.ndarray  # (profiles, daytypes, 48)
    crowd: np.ndarray  # (centres, daytypes, 48): counter arrival intensity / its daily mean
    calendars: tuple[_WorkCalendar, _WorkCalendar]
    spike_day: int
    understaffed_days: np.ndarray
    spike_factor: float = _SPIKE_FACTOR
    holiday_days: tuple[int, ...] = ()
    new_item: int = -1  # index into _ITEMS of the item going live, -1 for none
    new_item_day: int = 0


# channel -> channel class for day weights: counter-like, online-like, mobile, hotline
_CLASS_OF_CHANNEL = np.array([0, 1, 2, 3, 0, 1, 1])
_DAY_FACTORS = np.array(
    [
        [1.25, 1.10, 1.00, 1.00, 0.95, 0.35, 0.20],  # counter, self_service
        [1.10, 1.05, 1.00, 1.00, 0.95, 0.60, 0.55],  # online, mail, other
        [1.00, 1.00, 1.00, 1.00, 1.00, 0.80, 0.80],  # mobile
        [1.00, 1.00, 1.00, 1.00, 1.00, 0.90, 0.90],  # hotline
    ]
)
# profiles: 0-4 counters of each centre, 5 online/mail/other, 6 mobile, 7 hotline
_P_ONLINE, _P_MOBILE, _P_HOTLINE = 5, 6, 7
_PROFILE_OF_CHANNEL = np.array([-1, _P_ONLINE, _P_MOBILE, _P_HOTLINE, -1, _P_ONLINE, _P_ONLINE])


def _hourly(values: dict[range | int, float]) -> np.ndarray:
    out = np.zeros(24)
    for hours, v in values.items():
        out[list(hours) if isinstance(hours, range) else [hours]] = v
    return out


def _counter_profile(center: int, daytype: int) -> np.ndarray:
    """Half-hour arrival weights at a centre's counters: bimodal day, the centre's peak hours."""
    hourly = _hourly({8: 0.6, range(9, 12): 1.0, 12: 0.6, 13: 0.8, range(14, 17): 1.0, 17: 0.4})
    hourly[list(_PEAK_HOURS[center])] *= _PEAK_BOOST
    bins = np.repeat(hourly, 2)
    open_from, open_to = (17, 35) if daytype == 0 else (18, 32)  # 08:30-17:30 / 09:00-16:00
    mask = np.zeros(_N_BINS, dtype=bool)
    mask[open_from:open_to] = True
    return np.where(mask, bins, 0.0)


def _remote_profiles() -> list[np.ndarray]:
    online = _hourly(
        {
            range(0, 7): 0.08,
            7: 0.4,
            range(8, 12): 1.0,
            range(12, 14): 0.8,
            range(14, 18): 1.0,
            range(18, 20): 0.7,
            range(20, 23): 0.9,
            23: 0.3,
        }
    )
    mobile = _hourly(
        {
            range(0, 7): 0.1,
            7: 0.6,
            range(8, 12): 0.9,
            range(12, 14): 1.0,
            range(14, 18): 0.8,
            range(18, 20): 1.0,
            range(20, 23): 1.3,
            23: 0.4,
        }
    )
    hotline = _hourly({range(0, 7): 0.1, 7: 0.5, range(8, 19): 1.0, range(19, 23): 0.6, 23: 0.2})
    return [np.repeat(p, 2) for p in (online, mobile, hotline)]


def _build_time(seed: int, start: date, days: int, variant: MonitorVariant | None = None) -> _Time:
    variant = variant or MonitorVariant()
    rng = _rng(seed, _ST_CALENDAR)
    ext = days + 400  # durations may run far past the period end; they become open steps
    weekday = (np.arange(ext) + start.weekday()) % 7
    daytype = np.select([weekday == 5, weekday == 6], [1, 2], 0)
    noise = np.exp(rng.normal(0.0, 0.08, days))  # a day's demand shock, shared by channels
    w = _DAY_FACTORS[:, weekday[:days]] * noise
    holiday: tuple[int, ...] = ()
    if variant.holiday_week:
        first_monday = (-weekday[0]) % 7
        h0 = min(first_monday + 14, days - 7)
        holiday = tuple(range(h0, h0 + 7))
        w[:, list(holiday)] *= variant.holiday_factor
    day_weight = w / w.mean(axis=1, keepdims=True)
    day_cdf = np.cumsum(w, axis=1)
    day_cdf /= day_cdf[:, -1:]

    profiles = np.zeros((8, 3, _N_BINS))
    for dt in range(3):
        for c in range(len(_CENTERS)):
            profiles[c, dt] = _counter_profile(c, dt)
        profiles[5:, dt] = _remote_profiles()
    tod_cdf = np.cumsum(profiles, axis=2)
    tod_cdf /= tod_cdf[:, :, -1:]
    counters = profiles[: len(_CENTERS)]
    open_mean = counters.sum(axis=2, keepdims=True) / (counters > 0).sum(axis=2, keepdims=True)
    crowd = np.where(counters > 0, counters / open_mean, 1.0)

    back_start = np.where(weekday < 5, 8.5 * 3600, 0.0)
    back_len = np.where(weekday < 5, 9 * 3600, 0.0)
    desk_start = np.where(weekday < 5, 8.5 * 3600, 9 * 3600)
    desk_len = np.where(weekday < 5, 9 * 3600, 7 * 3600)

    # the understaffed week starts on the first Monday on or after day 7 (or as late as fits)
    first = min(7, days - 7)
    s = first + (-weekday[first]) % 7
    s = s if s + 7 <= days else days - 7
    understaffed = np.arange(s, s + 7)
    # the queue spike: the first Wednesday (else weekday) outside the understaffed week, if any
    weekdays = [d for d in range(days) if weekday[d] < 5]
    outside = [d for d in weekdays if not s <= d < s + 7]
    spike_day = ([d for d in outside if weekday[d] == 2] or outside or weekdays)[0]
    if variant.spike_day is not None:  # the first weekday outside that week from that day on
        spike_day = ([d for d in outside if d >= variant.spike_day] or outside or weekdays)[0]
    return _Time(
        start=start,
        days=days,
        end_s=float(days * _DAY),
        weekday=weekday,
        daytype=daytype,
        day_cdf=day_cdf,
        day_weight=day_weight,
        tod_cdf=tod_cdf,
        crowd=crowd,
        calendars=(_WorkCalendar(back_start, back_len), _WorkCalendar(desk_start, desk_len)),
        spike_day=spike_day,
        understaffed_days=understaffed,
        spike_factor=variant.spike_factor,
        holiday_days=holiday,
        new_item=_new_item_index(variant),
        new_item_day=min(max(variant.new_item_day, 0), days - 1),
    )


def _new_item_index(variant: MonitorVariant) -> int:
    if variant.new_item is None:
        return -1
    codes = [i.code for i in _ITEMS]
    if variant.new_item not in codes:
        raise ValueError(f"new_item {variant.new_item!r} is not in the generator's catalog")
    return codes.index(variant.new_item)


def _time_in_day(
    rng: np.random.Generator, tm: _Time, day: np.ndarray, profile: np.ndarray
) -> np.ndarray:
    """Arrival instants on the given days, following each row's half-hour profile."""
    out = np.empty(len(day))
    dtype = tm.daytype[day]
    u = rng.random(len(day))
    v = rng.random(len(day))
    key = profile.astype(np.int64) * 3 + dtype
    for k in np.unique(key):  # at most 24 profile/day-type pairs
        idx = np.nonzero(key == k)[0]
        cdf = tm.tod_cdf[k // 3, k % 3]
        b = np.minimum(np.searchsorted(cdf, u[idx], side="right"), _N_BINS - 1)
        out[idx] = day[idx] * _DAY + (b + v[idx]) * _BIN
    return out


# --- population -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Population:
    n_ind: int
    n_ent: int
    age: np.ndarray  # per individual: age-band index
    district: np.ndarray  # per citizen (individuals, then enterprises)
    seniors: np.ndarray  # individual indices aged 60+
    pools: dict[str, np.ndarray]  # bundle member pools


def _population(rng: np.random.Generator, n_ind: int, n_ent: int) -> _Population:
    age = rng.choice(len(_AGE_BANDS), size=n_ind, p=_AGE_WEIGHTS).astype(np.int8)
    district = rng.choice(len(_DISTRICTS), size=n_ind + n_ent, p=_DISTRICT_WEIGHTS)
    pools = {
        "adult": np.nonzero(age <= 2)[0],
        "parent": np.nonzero(age <= 1)[0],
        "enterprise": np.arange(n_ind, n_ind + n_ent),
        "75+": np.nonzero(age == 4)[0],
    }
    return _Population(
        n_ind=n_ind,
        n_ent=n_ent,
        age=age,
        district=district.astype(np.int8),
        seniors=np.nonzero(age >= 3)[0],
        pools=pools,
    )


# --- applications ---------------------------------------------------------------------------------
@dataclass
class _Apps:
    """Applications, one array element each; -1 / NaN = not decided yet."""

    item: np.ndarray
    citizen: np.ndarray  # individuals 0..n_ind-1, then enterprises; -1 anonymous
    day: np.ndarray
    t0: np.ndarray  # arrival / submission instant, seconds from period start
    channel: np.ndarray
    center: np.ndarray
    location: np.ndarray
    group: np.ndarray  # 0-4 age band, _G_ENT, _G_ANON
    district: np.ndarray

    @staticmethod
    def new(item: np.ndarray, citizen: np.ndarray) -> _Apps:
        n = len(item)
        return _Apps(
            item=item.astype(np.int16),
            citizen=citizen.astype(np.int64),
            day=np.full(n, -1, dtype=np.int64),
            t0=np.full(n, np.nan),
            channel=np.full(n, -1, dtype=np.int8),
            center=np.full(n, -1, dtype=np.int8),
            location=np.full(n, -1, dtype=np.int64),
            group=np.full(n, -1, dtype=np.int8),
            district=np.full(n, -1, dtype=np.int8),
        )

    def __len__(self) -> int:
        return len(self.item)

    def take(self, idx: np.ndarray) -> _Apps:
        return _Apps(**{k: v[idx] for k, v in vars(self).items()})

    @staticmethod
    def concat(parts: list[_Apps]) -> _Apps:
        return _Apps(**{k: np.concatenate([vars(p)[k] for p in parts]) for k in vars(parts[0])})


def _draw_citizens(
    rng: np.random.Generator, item: np.ndarray, cat: _Catalog, pop: _Population
) -> np.ndarray:
    """Applicants chosen uniformly within each item's eligible population (so that items are
    independent given eligibility)."""
    n = len(item)
    elig = cat.eligible[item]
    u = rng.random(n)
    citizen = np.floor(u * pop.n_ind).astype(np.int64)
    ent = elig == _ENT
    citizen[ent] = pop.n_ind + np.floor(u[ent] * pop.n_ent).astype(np.int64)
    sen = elig == _SENIOR
    citizen[sen] = pop.seniors[np.floor(u[sen] * len(pop.seniors)).astype(np.int64)]
    anon = (elig == _PLACE) & (rng.random(n) < _ANONYMOUS_SHARE)
    citizen[anon] = -1
    return citizen


def _draw_background(rng: np.random.Generator, n: int, cat: _Catalog, pop: _Population) -> _Apps:
    item = rng.choice(len(_ITEMS), size=n, p=cat.weight)
    return _Apps.new(item, _draw_citizens(rng, item, cat, pop))


def _desk_center(
    rng: np.random.Generator, district: np.ndarray, dept: np.ndarray, cat: _Catalog
) -> np.ndarray:
    """Where a citizen goes in person: the district's centre (80%) or the city hall, and the
    city hall when the department has no desk in the district centre."""
    center = _DISTRICT_HOME[district].copy()
    center[rng.random(len(district)) < 0.2] = _CITY_HALL
    center[~cat.hosted[dept, center]] = _CITY_HALL
    return center.astype(np.int8)


def _complete(
    rng: np.random.Generator,
    apps: _Apps,
    cat: _Catalog,
    pop: _Population,
    tm: _Time,
    n_grid: int,
) -> _Apps:
    """Fill in (in place) the applicant attributes, channel, centre, location and arrival."""
    n = len(apps)
    item, cit = apps.item, apps.citizen
    is_ind = (cit >= 0) & (cit < pop.n_ind)
    group = np.full(n, _G_ANON, dtype=np.int8)
    group[is_ind] = pop.age[cit[is_ind]]
    group[cit >= pop.n_ind] = _G_ENT
    district = np.where(cit >= 0, pop.district[np.maximum(cit, 0)], 0).astype(np.int8)

    place = cat.place[item]
    loc_free = place & (apps.location < 0)
    apps.location[loc_free] = rng.integers(0, n_grid, loc_free.sum())
    # a report's district is the district of the place reported
    district[place] = (apps.location[place] * len(_DISTRICTS) // n_grid).astype(np.int8)

    free = apps.channel < 0
    probs = _CHANNEL_PROBS[group].copy()
    no_online = ~cat.online[item]
    probs[no_online, _COUNTER] += probs[no_online, _ONLINE] + probs[no_online, _MOBILE]
    probs[no_online, _ONLINE] = probs[no_online, _MOBILE] = 0.0
    no_kiosk = ~cat.kiosk[item]
    probs[no_kiosk, _COUNTER] += probs[no_kiosk, _SELF]
    probs[no_kiosk, _SELF] = 0.0
    identified_place = place & (group != _G_ANON)
    probs[place] = 0.0
    probs[place, _HOTLINE] = 1.0
    probs[identified_place, _HOTLINE] = 1.0 - _PLACE_MOBILE_SHARE
    probs[identified_place, _MOBILE] = _PLACE_MOBILE_SHARE
    cum = np.cumsum(probs, axis=1)
    u = rng.random(n) * cum[:, -1]
    drawn = np.minimum((cum <= u[:, None]).sum(axis=1), len(col.CHANNELS) - 1)
    apps.channel[free] = drawn[free]

    contact = (apps.channel == _COUNTER) | (apps.channel == _SELF)
    need_center = contact & (apps.center < 0)
    centers = _desk_center(rng, district, cat.dept[item], cat)
    apps.center[need_center] = centers[need_center]

    need_day = (apps.day < 0) & np.isnan(apps.t0)
    cls = _CLASS_OF_CHANNEL[apps.channel]
    u = rng.random(n)
    for c in range(len(_DAY_FACTORS)):
        idx = np.nonzero(need_day & (cls == c))[0]
        apps.day[idx] = np.searchsorted(tm.day_cdf[c], u[idx], side="right")
    apps.day = np.minimum(apps.day, tm.days - 1)
    if tm.new_item >= 0:  # the item goes live: nothing before its day, a surge just after
        fixed = ~np.isnan(apps.t0)  # planted applications keep their time of day
        day_now = np.where(fixed, np.floor(np.nan_to_num(apps.t0) / _DAY), apps.day)
        early = (item == tm.new_item) & (day_now < tm.new_item_day)
        span = tm.days - tm.new_item_day
        late = tm.new_item_day + np.floor(rng.random(int(early.sum())) ** 2 * span)
        late = np.minimum(late.astype(np.int64), tm.days - 1)
        apps.day[early] = late
        moved = early & fixed
        apps.t0[moved] += (apps.day[moved] - day_now[moved]) * _DAY
    need_t = np.isnan(apps.t0)
    profile = np.where(contact, apps.center, _PROFILE_OF_CHANNEL[apps.channel])
    times = _time_in_day(rng, tm, np.maximum(apps.day, 0), profile)
    apps.t0[need_t] = times[need_t]
    apps.day = (apps.t0 // _DAY).astype(np.int64)
    apps.group, apps.district = group, district
    return apps


# --- the plan: roster, workload, officials ------------------------------------------------
@dataclass
class _Plan:
    desk_on_duty: np.ndarray  # (departments, centres, days), 0 = no desk
    back_on_duty: np.ndarray  # (departments, days), 0 = closed
    desk_base: np.ndarray  # (departments, centres) normal weekday staffing
    back_base: np.ndarray
    load_desk: np.ndarray  # (departments, centres, days), relative to the weekday average
    load_back: np.ndarray  # (departments, days)
    desk_pool: np.ndarray  # (departments, centres): first official number of the pool
    back_pool: np.ndarray  # (departments,)
    shortfall: int


def _demand_shares(apps: _Apps, cat: _Catalog) -> tuple[np.ndarray, np.ndarray]:
    """Per application: first visits per desk (department, centre) and back-office steps per
    department, from the templates (a first guess, before any simulation)."""
    n_d, n_c = len(_DEPARTMENTS), len(_CENTERS)
    contact = apps.center >= 0
    desk = np.zeros((n_d, n_c))
    np.add.at(desk, (cat.tmpl_dept[apps.item, 0][contact], apps.center[contact]), 1.0)
    back_steps = cat.tmpl_dept[apps.item].copy()
    back_steps[contact, 0] = -1  # the first step of a contact application is at the desk
    back = np.bincount(back_steps[back_steps >= 0], minlength=n_d).astype(float)
    return desk / len(apps), back / len(apps)


def _row_shares(rows: _Rows, n_apps: int) -> tuple[np.ndarray, np.ndarray]:
    """Per application: contact steps per desk and other steps per department, as simulated
    (so planned workload counts what an analyst counts: every step, trips and pickups too)."""
    n_d, n_c = len(_DEPARTMENTS), len(_CENTERS)
    at_desk = rows.center >= 0
    desk = np.zeros((n_d, n_c))
    np.add.at(desk, (rows.dept[at_desk], rows.center[at_desk]), 1.0)
    back = np.bincount(rows.dept[~at_desk], minlength=n_d).astype(float)
    return desk / n_apps, back / n_apps


def _plan(
    seed: int,
    tm: _Time,
    cat: _Catalog,
    desk_share: np.ndarray,
    back_share: np.ndarray,
    intake_weight: np.ndarray,
) -> _Plan:
    rng = _rng(seed, _ST_ROSTER)
    days = tm.days
    n_d = len(_DEPARTMENTS)
    hosted = cat.hosted
    desk_base = np.where(
        hosted, np.maximum(1, np.round(_DESK_STAFF_TOTAL * desk_share / desk_share.sum())), 0
    ).astype(np.int64)
    back_base = np.maximum(2, np.round(_BACK_STAFF_TOTAL * back_share / back_share.sum()))
    back_base = back_base.astype(np.int64)

    wd = tm.weekday[:days]
    desk_factor = np.select([wd == 5, wd == 6], [0.35, 0.22], 1.0)
    sched_desk = np.maximum(1, np.round(desk_base[:, :, None] * desk_factor[None, None, :]))
    sched_desk = np.where(hosted[:, :, None], sched_desk, 0)
    back_factor = np.where(wd < 5, 1.0, 0.0)
    sched_back = np.round(back_base[:, None] * back_factor[None, :])
    sched_back[_HOTLINE_DEPT] = np.round(back_base[_HOTLINE_DEPT] * np.where(wd < 5, 1.0, 0.6))
    ud = _DEPARTMENTS.index(_UNDERSTAFFED_DEPT)
    uw = tm.understaffed_days
    sched_desk[ud][:, uw] = np.maximum(1, np.round(sched_desk[ud][:, uw] * _UNDERSTAFFED_FACTOR))
    sched_back[ud, uw] = np.maximum(1, np.round(sched_back[ud, uw] * _UNDERSTAFFED_FACTOR))
    uc = _UNDERSTAFFED_CENTER
    reduced = np.maximum(1, np.round(sched_desk[:, uc] * _UNDERSTAFFED_CENTER_FACTOR))
    sched_desk[:, uc] = np.where(sched_desk[:, uc] > 0, reduced, 0)
    shortfall = int(
        (
            desk_base[:, uc]
            - np.where(
                hosted[:, uc],
                np.maximum(1, np.round(desk_base[:, uc] * _UNDERSTAFFED_CENTER_FACTOR)),
                0,
            )
        ).sum()
    )

    def absent(s: np.ndarray) -> np.ndarray:
        # individual absences, and some training/meeting days that take out a third of a unit
        meeting = np.where(rng.random(s.shape) < _MEETING_DAYS, rng.uniform(0.55, 0.8, s.shape), 1)
        on = rng.binomial(np.round(s * meeting).astype(np.int64), 1.0 - _ABSENCE)
        return np.where(s > 0, np.maximum(1, on), 0)

    desk_on = absent(sched_desk)
    back_on = absent(sched_back)

    # Planned workload: expected demand per official on duty, relative to a normal weekday.
    weekday_mask = wd < 5
    vol_desk = desk_share[:, :, None] * tm.day_weight[0][None, None, :]
    ref = vol_desk[:, :, weekday_mask].sum() / (desk_base.sum() * weekday_mask.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        load_desk = np.where(desk_on > 0, vol_desk / np.maximum(desk_on, 1) / ref, 1.0)
    vol_back = back_share[:, None] * intake_weight[None, :]
    ref_b = vol_back[:, weekday_mask].sum() / (back_base.sum() * weekday_mask.sum())
    load_back = np.full((n_d, days), np.nan)
    open_b = back_on > 0
    load_back[open_b] = (vol_back / np.maximum(back_on, 1) / ref_b)[open_b]
    # a closed day takes the load of the next open day (work handed over then waits for it)
    for d in range(days - 2, -1, -1):
        gap = np.isnan(load_back[:, d])
        load_back[gap, d] = load_back[gap, d + 1]
    load_back = np.where(np.isnan(load_back), 1.0, load_back)
    load_desk = np.clip(load_desk, 0.3, 6.0)
    load_back = np.clip(load_back, 0.3, 6.0)

    # official pools: every desk and back office has as many officials as its normal staffing
    sizes = np.concatenate([desk_base.ravel(), back_base])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return _Plan(
        desk_on_duty=desk_on.astype(np.int64),
        back_on_duty=back_on.astype(np.int64),
        desk_base=desk_base,
        back_base=back_base,
        load_desk=load_desk,
        load_back=load_back,
        desk_pool=offsets[: desk_base.size].reshape(desk_base.shape),
        back_pool=offsets[desk_base.size :],
        shortfall=shortfall,
    )


# --- simulation of the steps ----------------------------------------------------------------------
@dataclass
class _Rows:
    """One element per written valid event row (numeric codes)."""

    app: np.ndarray
    pos: np.ndarray
    kind: np.ndarray
    dept: np.ndarray
    channel: np.ndarray
    center: np.ndarray
    official: np.ndarray
    arrived: np.ndarray
    started: np.ndarray
    ended: np.ndarray
    physical: np.ndarray
    satisfaction: np.ndarray


# deliver modes
_DV_NONE, _DV_DESK, _DV_PICKUP, _DV_MAIL, _DV_DIGITAL = 0, 1, 2, 3, 4


def _simulate(
    rng: np.random.Generator, apps: _Apps, cat: _Catalog, tm: _Time, plan: _Plan
) -> tuple[_Rows, np.ndarray]:
    """Steps, durations and satisfaction of the applications; returns the rows (ordered by
    ``started_at``) and whether each application is still open at period end."""
    sim = _Simulation(rng, apps, cat, tm, plan)
    sim.first_steps()
    for k in range(1, _MAX_STEPS):
        sim.later_steps(k)
    return sim.finish()


class _Simulation:
    """The steps of a batch of applications as (applications, step position) matrices."""

    def __init__(
        self, rng: np.random.Generator, apps: _Apps, cat: _Catalog, tm: _Time, plan: _Plan
    ) -> None:
        self.rng, self.apps, self.cat, self.tm, self.plan = rng, apps, cat, tm, plan
        n = self.n = len(apps)
        item, ch = self.item, self.ch = apps.item, apps.channel
        self.end = tm.end_s
        self.place = cat.place[item]
        self.same_day = cat.same_day[item]
        self.contact_app = (ch == _COUNTER) | (ch == _SELF)
        self.cxf = 0.6 + 0.2 * cat.cx[item]
        # department_quality on durations ("time"), on satisfaction only ("experience"), or on
        # return trips ("visits": supplements and in-person pickups)
        self.q = cat.quality if cat.quality_via == "time" else np.ones_like(cat.quality)
        trips = cat.quality[cat.dept[item]] ** 2 if cat.quality_via == "visits" else np.ones(n)

        # step templates, with a supplement trip inserted for some applications
        p_sup = cat.supp_p[item] * np.where((ch == _ONLINE) | (ch == _MOBILE), 1.5, 1.0) * trips
        sup = rng.random(n) < p_sup
        ins = cat.supp_pos[item].astype(np.int64)[:, None]
        self.kcol = kcol = np.arange(_MAX_STEPS)[None, :]
        t_kind, t_dept = cat.tmpl_kind[item], cat.tmpl_dept[item]
        prev_kind = np.concatenate([np.full((n, 1), -1, np.int8), t_kind[:, :-1]], axis=1)
        prev_dept = np.concatenate([np.full((n, 1), -1, np.int8), t_dept[:, :-1]], axis=1)
        before = np.take_along_axis(t_dept, np.clip(ins - 1, 0, _MAX_STEPS - 1), axis=1)
        supplement = np.where(kcol == ins, _S["supplement"], prev_kind)
        self.kinds = np.where(sup[:, None], np.where(kcol < ins, t_kind, supplement), t_kind)
        shifted = np.where(kcol == ins, before, prev_dept)
        self.depts = np.where(sup[:, None], np.where(kcol < ins, t_dept, shifted), t_dept)
        self.n_steps = cat.tmpl_len[item].astype(np.int64) + sup

        # how the result is delivered
        u = rng.random(n)
        deliver = np.full(n, _DV_MAIL, dtype=np.int8)
        remote_digital = (ch == _ONLINE) | (ch == _MOBILE)
        deliver[self.contact_app & (u < 0.35 * trips)] = _DV_PICKUP
        deliver[remote_digital & (u < 0.60)] = _DV_DIGITAL
        deliver[remote_digital & (u >= 1.0 - 0.05 * trips)] = _DV_PICKUP
        deliver[~self.contact_app & ~remote_digital & (u >= 1.0 - 0.1 * trips)] = _DV_PICKUP
        # a same-day item is handed over at the desk or digitally, never by mail
        deliver[self.same_day & ~self.contact_app] = _DV_DIGITAL
        self.deliver = deliver

        shape = self.shape = (n, _MAX_STEPS)
        self.arrived = np.full(shape, np.nan)
        self.started = np.full(shape, np.nan)
        self.ended = np.full(shape, np.nan)
        self.row_ch = np.full(shape, -1, dtype=np.int8)
        self.row_center = np.full(shape, -1, dtype=np.int8)
        self.official = np.full(shape, -1, dtype=np.int64)
        self.physical = np.zeros(shape, dtype=bool)
        self.wait_total = np.zeros(n)
        self.visits = np.zeros(n, dtype=np.int64)

    # --- helpers ---
    def day_of(self, t: np.ndarray) -> np.ndarray:
        """Day index of instants, clipped to the period (for workload look-ups)."""
        days = np.nan_to_num(t, nan=0.0, posinf=0.0) // _DAY
        return np.clip(days, 0, self.tm.days - 1).astype(np.int64)

    def work_add(self, t: np.ndarray, work: np.ndarray, cal: np.ndarray) -> np.ndarray:
        out = t + work  # _CAL_24H: wall clock
        for c, calendar in zip((_CAL_BACK, _CAL_DESK), self.tm.calendars, strict=True):
            m = cal == c
            out[m] = calendar.add(t[m], work[m])
        return out

    def pick(self, pool_start: np.ndarray, size: np.ndarray) -> np.ndarray:
        """A random official of each pool."""
        u = self.rng.random(len(size))
        return pool_start + np.floor(u * np.maximum(size, 1)).astype(np.int64)

    def lognormal(self, mean: np.ndarray, sigma: float) -> np.ndarray:
        return _lognormal(self.rng, mean, sigma)

    # --- kinds of steps ---
    def desk_visit(
        self,
        idx: np.ndarray,
        k: int,
        arr: np.ndarray,
        channel: np.ndarray,
        center: np.ndarray,
        wait_scale: float = 1.0,
    ) -> None:
        """A contact step: queue at the desk, then service (wall clock)."""
        tm, plan, cat, q = self.tm, self.plan, self.cat, self.q
        d, it, kind = self.depts[idx, k], self.item[idx], self.kinds[idx, k]
        dy = self.day_of(arr)
        b = ((arr % _DAY) // _BIN).astype(np.int64).clip(0, _N_BINS - 1)
        load = plan.load_desk[d, center, dy]
        crowd = tm.crowd[center, tm.daytype[dy], b]
        spike = (center == _SPIKE_CENTER) & (dy == tm.spike_day) & np.isin(b // 2, _SPIKE_HOURS)
        crowd = crowd * np.where(spike, tm.spike_factor, 1.0)
        is_self = channel == _SELF
        # kiosk queues are short and barely feel the desk's workload
        base_wait = np.where(
            is_self, _WAIT_MEAN[_SELF] * load**0.5, _WAIT_MEAN[_COUNTER] * load**_EL_WAIT
        )
        mean_wait = base_wait * crowd * q[d] * cat.lag_wait[it, kind] * wait_scale
        wait = np.minimum(self.lognormal(mean_wait, 0.7), 5 * 3600.0)
        base_proc = np.where(is_self, _DESK_PROC_MEAN[_SELF], _DESK_PROC_MEAN[_COUNTER])
        base_proc = base_proc * np.where(kind == _S["deliver"], 0.5, self.cxf[idx])
        late_day = np.where(((arr % _DAY) >= 16 * 3600), 0.85, 1.0)  # hurry before closing
        mean_proc = base_proc * load**_EL_DESK_PROC * q[d] * cat.lag_proc[it, kind] * late_day
        proc = self.lognormal(mean_proc, 0.4)
        self.arrived[idx, k] = arr
        self.started[idx, k] = arr + wait
        self.ended[idx, k] = arr + wait + proc
        self.row_ch[idx, k] = channel
        self.row_center[idx, k] = center
        self.physical[idx, k] = True
        desk = self.pick(plan.desk_pool[d, center], plan.desk_base[d, center])
        self.official[idx, k] = np.where(is_self, -1, desk)  # kiosks have no official
        self.wait_total[idx] += np.where(arr + wait <= self.end, wait, 0.0)

    def back_step(
        self,
        idx: np.ndarray,
        k: int,
        ready: np.ndarray,
        channel: np.ndarray,
        proc_override: np.ndarray | None = None,
    ) -> None:
        """A back-office step: the hand-off, then processing, in working time."""
        tm, plan, cat, q = self.tm, self.plan, self.cat, self.q
        d, it, kind = self.depts[idx, k], self.item[idx], self.kinds[idx, k]
        place, same_day = self.place[idx], self.same_day[idx]
        cal = np.full(len(idx), _CAL_BACK)
        cal[place] = _CAL_DESK  # field teams and hotline call-backs work every day
        cal[place & (kind == _S["dispatch"])] = _CAL_24H
        # same-day items: the desk does it while the applicant waits, or it is automated
        cal[same_day] = np.where(self.contact_app[idx[same_day]], _CAL_DESK, _CAL_24H)
        scale = np.where(same_day, _SAME_DAY_SCALE, 1.0)
        cross = np.where(self.depts[idx, k - 1] != d, _CROSS_DEPT_HANDOFF, 1.0)
        h_base = np.where(d == _HOTLINE_DEPT, _HOTLINE_HANDOFF_MEAN, _HANDOFF_MEAN)
        load_h = plan.load_back[d, self.day_of(ready)]
        mean_h = h_base * cross * load_h**_EL_HANDOFF * q[d] * cat.lag_handoff[it, kind] * scale
        start = self.work_add(ready, self.lognormal(mean_h, 0.8), cal)
        sd = self.day_of(start)
        if proc_override is None:
            monday = np.where(tm.weekday[sd] == 0, _MONDAY_FACTOR, 1.0)
            load_p = plan.load_back[d, sd] ** _EL_PROC
            mean_p = _BACK_PROC_MEAN[kind] * self.cxf[idx] * load_p * q[d] * monday * scale
            mean_p = mean_p * cat.lag_proc[it, kind]
            finish = self.work_add(start, self.lognormal(mean_p, 0.6), cal)
        else:
            finish = start + proc_override
        self.started[idx, k] = start
        self.ended[idx, k] = finish
        self.row_ch[idx, k] = channel
        self.official[idx, k] = self.pick(plan.back_pool[d], plan.back_base[d])

    def return_center(self, idx: np.ndarray, k: int) -> np.ndarray:
        """Where the applicant comes back to: the first visit's centre, else the nearest."""
        c = self.apps.center[idx].copy()
        none = c < 0
        d = self.depts[idx, k]
        c[none] = _desk_center(self.rng, self.apps.district[idx][none], d[none], self.cat)
        c[~self.cat.hosted[d, c]] = _CITY_HALL
        return c.astype(np.int64)

    # --- the steps in order ---
    def first_steps(self) -> None:
        """At the desk, a remote submission's pre-review, or a hotline call / app report."""
        apps, plan, cat, q = self.apps, self.plan, self.cat, self.q
        t0, ch, item = apps.t0, self.ch, self.item
        idx = np.nonzero(self.contact_app)[0]
        self.desk_visit(idx, 0, t0[idx], ch[idx], apps.center[idx].astype(np.int64))
        self.visits[idx] += 1

        idx = np.nonzero(self.place)[0]
        call = np.where(ch[idx] == _HOTLINE, 6 * _MIN, 20 * _MIN)
        self.started[idx, 0] = t0[idx]
        self.ended[idx, 0] = t0[idx] + self.lognormal(call, 0.4)
        self.row_ch[idx, 0] = ch[idx]
        d = self.depts[idx, 0]
        self.official[idx, 0] = self.pick(plan.back_pool[d], plan.back_base[d])

        idx = np.nonzero(~self.contact_app & ~self.place)[0]
        d = self.depts[idx, 0]
        same_day = self.same_day[idx]
        cal = np.where(same_day, _CAL_24H, _CAL_BACK)  # same-day items: automated
        load = plan.load_back[d, self.day_of(t0[idx])] ** _EL_PROC
        lag = cat.lag_proc[item[idx], _S["accept"]]
        mean_p = _BACK_PROC_MEAN[_S["accept"]] * self.cxf[idx] * load * q[d] * lag
        mean_p = mean_p * np.where(same_day, _SAME_DAY_SCALE, 1.0)
        self.started[idx, 0] = t0[idx]
        self.ended[idx, 0] = self.work_add(t0[idx], self.lognormal(mean_p, 0.6), cal)
        self.row_ch[idx, 0] = ch[idx]
        self.official[idx, 0] = self.pick(plan.back_pool[d], plan.back_base[d])

    def later_steps(self, k: int) -> None:
        """Step ``k`` of the applications whose step ``k - 1`` closed within the period."""
        ready = self.ended[:, k - 1]
        act = (k < self.n_steps) & (ready <= self.end)
        kind = self.kinds[:, k]
        ch, deliver, contact_app = self.ch, self.deliver, self.contact_app
        is_sup = act & (kind == _S["supplement"])
        is_dlv = act & (kind == _S["deliver"])
        # a same-day item collected in the same visit, before the hall closes
        same_day_ready = self.day_of(ready) == self.day_of(self.apps.t0)
        same_visit = is_dlv & contact_app & self.same_day & same_day_ready
        # collected in person on a later day: chosen, or a same-day item not ready in time
        pickup = is_dlv & ~same_visit & ((deliver == _DV_PICKUP) | (contact_app & self.same_day))
        idx = np.nonzero(is_sup | pickup)[0]
        if idx.size:
            center = self.return_center(idx, k)
            later = self.day_of(ready[idx]) + self.rng.geometric(0.45, idx.size)
            day = np.minimum(later, len(self.tm.daytype) - 1)
            arr = _time_in_day(self.rng, self.tm, day, center)
            self.desk_visit(idx, k, arr, np.full(idx.size, _COUNTER, np.int8), center)
            self.visits[idx] += 1
        idx = np.nonzero(same_visit)[0]
        if idx.size:
            center = self.apps.center[idx].astype(np.int64)
            counter = np.full(idx.size, _COUNTER, np.int8)
            self.desk_visit(idx, k, ready[idx], counter, center, wait_scale=0.3)
        remote = is_dlv & ~same_visit & ~pickup
        idx = np.nonzero(remote & (deliver == _DV_DIGITAL))[0]
        if idx.size:
            online = self.lognormal(np.full(idx.size, 5 * _MIN), 0.5)
            self.back_step(idx, k, ready[idx], ch[idx], online)
        idx = np.nonzero(remote & (deliver != _DV_DIGITAL))[0]
        if idx.size:
            courier = self.rng.uniform(20 * 3600, 72 * 3600, idx.size)  # express mail
            self.back_step(idx, k, ready[idx], np.full(idx.size, _MAIL, np.int8), courier)
        idx = np.nonzero(act & ~is_sup & ~is_dlv)[0]
        if idx.size:
            self.back_step(idx, k, ready[idx], ch[idx])

    def finish(self) -> tuple[_Rows, np.ndarray]:
        """Cuts at period end, rates satisfaction and flattens the written steps to rows."""
        n, end, rng = self.n, self.end, self.rng
        t0 = self.apps.t0
        exists = self.kcol < self.n_steps[:, None]
        emit = np.zeros(self.shape, dtype=bool)
        closed = np.zeros(self.shape, dtype=bool)
        for k in range(_MAX_STEPS):
            alive = np.ones(n, dtype=bool) if k == 0 else closed[:, k - 1]
            emit[:, k] = exists[:, k] & alive
            closed[:, k] = emit[:, k] & (self.ended[:, k] <= end) & (self.started[:, k] <= end)
        pending = emit & ~closed & ~(self.started <= end)  # handed over, not started: queued
        ready = np.concatenate([t0[:, None], self.ended[:, :-1]], axis=1)
        started = np.where(pending, ready, self.started)
        arrived = np.where(pending & ~(self.arrived <= end), np.nan, self.arrived)
        official = np.where(pending, -1, self.official)
        ended = np.where(emit & ~closed, np.nan, self.ended)
        is_open: np.ndarray = np.asarray((emit & ~closed).any(axis=1))

        # satisfaction on the final step of completed applications
        rows_n = np.arange(n)
        last = self.n_steps - 1
        first_day = np.datetime64(self.tm.start, "D")
        applied = first_day + (t0 // _DAY).astype(np.int64).astype("timedelta64[D]")
        done = (np.nan_to_num(ended[rows_n, last]) // _DAY).astype(np.int64)
        due = np.busday_offset(applied, self.cat.limit[self.item].astype(np.int64), "forward")
        late = (first_day + done.astype("timedelta64[D]")) > due
        final_ch = self.row_ch[rows_n, last]
        p_rate = np.select(
            [final_ch == _COUNTER, final_ch == _HOTLINE, final_ch == _SELF, final_ch == _MAIL],
            [0.5, 0.6, 0.3, 0.2],
            0.35,
        )
        rated = closed[rows_n, last] & (rng.random(n) < p_rate) & (self.apps.citizen >= 0)
        latent = (
            4.75
            - 0.55 * np.log2(1.0 + self.wait_total / 600.0)
            - 1.2 * late
            - 0.5 * np.maximum(self.visits - 1, 0)
            - 1.5
            * _QUALITY_VIA[self.cat.quality_via]
            * (self.cat.quality[self.cat.dept[self.item]] - 1.0)
            + rng.normal(0.0, 0.6, n)
        )
        score = np.clip(np.round(latent), 1, 5).astype(np.int8)
        satisfaction = np.full(self.shape, -1, dtype=np.int8)
        satisfaction[rows_n, last] = np.where(rated, score, -1)

        a, p = np.nonzero(emit)
        rows = _Rows(
            app=a,
            pos=p,
            kind=self.kinds[a, p],
            dept=self.depts[a, p],
            channel=self.row_ch[a, p],
            center=self.row_center[a, p],
            official=official[a, p],
            arrived=np.floor(arrived[a, p]),  # whole seconds
            started=np.floor(started[a, p]),
            ended=np.floor(ended[a, p]),
            physical=self.physical[a, p],
            satisfaction=satisfaction[a, p],
        )
        order = np.lexsort((rows.pos, rows.app, rows.started))
        return _Rows(**{key: v[order] for key, v in vars(rows).items()}), is_open


# --- formatting ---------------------------------------------------------------------------------
class _Formatter:
    """Turns numeric rows into the string columns of the event contract."""

    def __init__(self, tm: _Time, pop: _Population) -> None:
        self.base = np.datetime64(tm.start, "s")
        self.pop = pop
        n_days = tm.days + 1
        days = pa.array(
            (self.base + np.arange(n_days) * np.timedelta64(1, "D")).astype("datetime64[s]")
        )
        self.date_str = pc.strftime(days, format="%Y-%m-%dT")
        secs = pa.array(np.arange(_DAY, dtype="int64").astype("datetime64[s]"))
        self.tod_str = pc.strftime(secs, format="%H:%M:%S" + UTC_OFFSET)
        self.n_days = n_days

    def timestamps(self, secs: np.ndarray) -> pa.Array:
        """ISO 8601 with the +08:00 offset; NaN -> null. Fast path for the period's days."""
        mask = np.isnan(secs)
        s = np.where(mask, 0, secs).astype(np.int64)
        day = s // _DAY
        if len(s) and (day.min() < 0 or day.max() >= self.n_days):
            arr = pa.array(self.base + s.astype("timedelta64[s]"), mask=mask)
            return pc.strftime(arr, format="%Y-%m-%dT%H:%M:%S" + UTC_OFFSET)
        dates = self.date_str.take(pa.array(day, mask=mask))
        tods = self.tod_str.take(pa.array(s % _DAY))
        return pc.binary_join_element_wise(dates, tods, "")

    @staticmethod
    def codes(vocab: tuple[str, ...], idx: np.ndarray) -> pa.Array:
        return pa.array(vocab, pa.string()).take(pa.array(idx.astype(np.int64), mask=idx < 0))

    @staticmethod
    def ids(prefix: str, num: np.ndarray, width: int, mask: np.ndarray | None = None) -> pa.Array:
        digits = pc.utf8_lpad(pc.cast(pa.array(num.astype(np.int64)), pa.string()), width, "0")
        out = pc.binary_join_element_wise(prefix, digits, "")
        if mask is not None and mask.any():
            out = pc.if_else(pa.array(mask), pa.nulls(len(num), pa.string()), out)
        return out

    def table(self, rows: _Rows, apps: _Apps, app_offset: int) -> pa.Table:
        """Every event column but event_id."""
        a = rows.app
        cit = apps.citizen[a]
        pop = self.pop
        is_ent = cit >= pop.n_ind
        person = self.ids("P", cit + 1, 7)
        firm = self.ids("E", cit - pop.n_ind + 1, 6)
        citizen = pc.if_else(pa.array(is_ent), firm, person)
        citizen = pc.if_else(pa.array(cit < 0), pa.nulls(len(a), pa.string()), citizen)
        group = apps.group[a]
        ctype = np.select([group < _G_ENT, group == _G_ENT], [0, 1], -1)
        age = np.where(group < _G_ENT, group, -1)
        loc = apps.location[a]
        sat = rows.satisfaction
        cols = {
            col.APPLICATION_ID: self.ids("A", app_offset + a, 8),
            col.CITIZEN_ID: citizen,
            col.CITIZEN_TYPE: self.codes(col.CITIZEN_TYPES, ctype),
            col.SERVICE_ITEM: self.codes(tuple(it.code for it in _ITEMS), apps.item[a]),
            col.DEPARTMENT: self.codes(_DEPARTMENTS, rows.dept),
            col.CHANNEL: self.codes(col.CHANNELS, rows.channel),
            col.CENTER: self.codes(_CENTERS, rows.center),
            col.DISTRICT: self.codes(_DISTRICTS, apps.district[a]),
            col.LOCATION: self.ids("grid-", loc, 4, loc < 0),
            col.STEP: self.codes(_STEPS, rows.kind),
            col.OFFICIAL: self.ids("O", rows.official + 1, 5, rows.official < 0),
            col.ARRIVED_AT: self.timestamps(rows.arrived),
            col.STARTED_AT: self.timestamps(rows.started),
            col.ENDED_AT: self.timestamps(rows.ended),
            col.DUE_AT: pa.nulls(len(a), pa.string()),  # the catalog's time limits apply
            col.PHYSICAL_VISIT: self.codes(("false", "true"), rows.physical.astype(np.int64)),
            col.SATISFACTION: self.codes(("0", "1", "2", "3", "4", "5"), sat.astype(np.int64)),
            col.AGE_BAND: self.codes(_AGE_BANDS, age),
        }
        return pa.table(cols)


# --- dirty rows and duplicates ------------------------------------------------------------------
@dataclass
class _Extras:
    table: pa.Table  # extra rows (without event_id)
    reason: list[str]  # per extra row: a Reason code, "exact" or "same_event"
    source: np.ndarray  # per extra row: the valid row it copies


def _split_counts(total: int, parts: int) -> list[int]:
    base, rest = divmod(total, parts)
    return [base + (1 if i < rest else 0) for i in range(parts)]


def _column(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks()


def _replace(
    table: pa.Table, name: str, mask: np.ndarray, value: pa.Array | str | None
) -> pa.Table:
    """``table`` with ``name`` set to ``value`` (a scalar or an array) where ``mask``."""
    old = _column(table, name)
    if value is None:
        value = pa.nulls(len(old), pa.string())
    elif isinstance(value, str):
        value = pa.array([value] * len(old), pa.string())
    new = pc.if_else(pa.array(mask, pa.bool_()), value, old)
    return table.set_column(table.schema.get_field_index(name), name, new)


def _extras(
    rng: np.random.Generator,
    table: pa.Table,
    rows: _Rows,
    counts: dict[str, int],
    fmt_: _Formatter,
    end_s: float,
) -> _Extras:
    """Copies of valid rows with one planted defect each, and duplicates."""
    n = table.num_rows
    closed = ~np.isnan(rows.ended)
    pools = {
        Reason.END_BEFORE_START: np.nonzero(closed & (rows.started >= 3600))[0],
        Reason.ARRIVAL_AFTER_START: np.nonzero(
            ~np.isnan(rows.arrived) & (rows.started <= end_s - 3600)
        )[0],
        Reason.FUTURE_TIMESTAMP: np.nonzero(closed)[0],
        col.DUPLICATE_SAME_EVENT: np.nonzero(closed)[0],
    }
    everything = np.arange(n)
    parts: list[pa.Table] = []
    reasons: list[str] = []
    sources: list[np.ndarray] = []
    for kind, count in counts.items():
        pool = pools.get(kind, everything)
        if count <= 0 or pool.size == 0:
            continue
        src = np.sort(rng.choice(pool, size=count, replace=count > pool.size))
        t = table.take(pa.array(src))
        m = len(src)
        every = np.ones(m, dtype=bool)
        if kind == Reason.MISSING_REQUIRED:
            which = np.arange(m) % len(col.REQUIRED_EVENT_COLUMNS)
            for j, name in enumerate(col.REQUIRED_EVENT_COLUMNS):
                t = _replace(t, name, which == j, None)
        elif kind == Reason.BAD_TIMESTAMP:
            bad = pa.array(rng.choice(_BAD_TIMESTAMPS, m).tolist(), pa.string())
            on_end = closed[src] & (rng.random(m) < 0.4)
            t = _replace(t, col.STARTED_AT, ~on_end, bad)
            t = _replace(t, col.ENDED_AT, on_end, bad)
        elif kind == Reason.BAD_VOCABULARY:
            fax = rng.random(m) < 0.5
            t = _replace(t, col.CHANNEL, fax, "fax")
            t = _replace(t, col.CITIZEN_TYPE, ~fax, "robot")
        elif kind == Reason.BAD_SATISFACTION:
            bad = pa.array(rng.choice(_BAD_SATISFACTION, m).tolist(), pa.string())
            t = _replace(t, col.SATISFACTION, every, bad)
        elif kind == Reason.BAD_BOOLEAN:
            t = _replace(t, col.PHYSICAL_VISIT, every, "maybe")
        elif kind == Reason.END_BEFORE_START:
            early = fmt_.timestamps(rows.started[src] - rng.integers(60, 3601, m))
            t = _replace(t, col.ENDED_AT, every, early)
        elif kind == Reason.ARRIVAL_AFTER_START:
            late = fmt_.timestamps(rows.started[src] + rng.integers(60, 3601, m))
            t = _replace(t, col.ARRIVED_AT, every, late)
        elif kind == Reason.FUTURE_TIMESTAMP:
            future = fmt_.timestamps(rows.ended[src] + _FUTURE_SHIFT_S)
            t = _replace(t, col.ENDED_AT, every, future)
        elif kind == Reason.UNKNOWN_SERVICE_ITEM:
            old = pc.binary_join_element_wise("OLD_", _column(t, col.SERVICE_ITEM), "")
            t = _replace(t, col.SERVICE_ITEM, every, old)
        elif kind == col.DUPLICATE_SAME_EVENT:
            t = _replace(t, col.ENDED_AT, every, None)
            t = _replace(t, col.SATISFACTION, every, None)
        # MALFORMED_ROW and exact duplicates: unchanged here (malformed lines are made on write)
        parts.append(t)
        reasons.extend([kind] * m)
        sources.append(src)
    if not parts:
        return _Extras(table.slice(0, 0), [], np.zeros(0, dtype=np.int64))
    return _Extras(pa.concat_tables(parts), reasons, np.concatenate(sources))


# --- writers --------------------------------------------------------------------------------------
# Lines are built column-wise with Arrow kernels, as large strings that end in a newline, so a
# whole part is one buffer written without copies.
_LARGE = pa.large_string()
_WRITE_SLICE = 100_000


def _large(c: pa.Array | pa.ChunkedArray) -> pa.Array:
    arr = c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c
    return arr.cast(_LARGE)


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, _LARGE)


def _csv_lines(table: pa.Table, *, quote: bool = True) -> pa.Array:
    """One CSV line per row, newline included; fields quoted only when needed (or never)."""
    parts = []
    for i, c in enumerate(table.columns):
        v = pc.fill_null(_large(c), _lit(""))
        if quote:
            needs = pc.match_substring_regex(v, '[",\r\n]')
            if pc.any(needs).as_py():
                escaped = pc.replace_substring(v, '"', '""')
                v = pc.if_else(
                    needs, pc.binary_join_element_wise(_lit('"'), escaped, _lit('"'), _lit("")), v
                )
        if i == table.num_columns - 1:
            v = pc.binary_join_element_wise(v, _lit("\n"), _lit(""))
        parts.append(v)
    return pc.binary_join_element_wise(*parts, _lit(","))


def _jsonl_lines(table: pa.Table) -> pa.Array:
    """One JSON object per row, newline included; keys in column order, missing values null."""
    pieces: list[pa.Array | pa.Scalar] = []
    for i, (name, c) in enumerate(zip(table.column_names, table.columns, strict=True)):
        v = _large(c)
        escaped = pc.replace_substring(pc.replace_substring(v, "\\", "\\\\"), '"', '\\"')
        value = pc.binary_join_element_wise(_lit('"'), escaped, _lit('"'), _lit(""))
        pieces.append(_lit(("{" if i == 0 else ",") + json.dumps(name) + ":"))
        pieces.append(pc.fill_null(value, _lit("null")))
    pieces.append(_lit("}\n"))
    return pc.binary_join_element_wise(*pieces, _lit(""))


def _write_lines(fh: object, lines: pa.Array) -> None:
    """Writes the concatenated lines straight from the Arrow buffer."""
    if len(lines) == 0:
        return
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    fh.write(memoryview(lines.buffers()[2])[first:last])  # type: ignore[attr-defined]


def _write_part(path: Path, table: pa.Table, malformed: np.ndarray, fmt: str) -> int:
    """Writes one part; rows flagged ``malformed`` become broken lines (dropped for Parquet).
    Returns the number of data rows written."""
    if fmt == "parquet":
        kept = table.filter(pa.array(~malformed))
        pq.write_table(kept, path, compression="snappy")
        return kept.num_rows
    with path.open("wb") as fh:
        if fmt == "csv":
            fh.write((",".join(col.EVENT_COLUMNS) + "\n").encode())
        # text is built in slices to keep the peak memory of a part low
        for lo in range(0, table.num_rows, _WRITE_SLICE):
            part = table.slice(lo, _WRITE_SLICE)
            _write_lines(fh, _text_lines(part, malformed[lo : lo + part.num_rows], fmt))
    return table.num_rows


def _text_lines(table: pa.Table, malformed: np.ndarray, fmt: str) -> pa.Array:
    idx = np.nonzero(malformed)[0]
    mask = pa.array(malformed)
    if fmt == "csv":
        lines = _csv_lines(table)
        if idx.size:
            bad = table.take(pa.array(idx))
            bad = _replace(bad, col.LOCATION, np.ones(idx.size, bool), _MALFORMED_LOCATION)
            # joined without quoting: the comma in the location splits it into two fields
            lines = pc.replace_with_mask(lines, mask, _csv_lines(bad, quote=False))
        return lines
    lines = _jsonl_lines(table)
    if idx.size:
        full = lines.take(pa.array(idx)).to_pylist()
        keep = len('{"event_id":""') + len(_column(table, col.EVENT_ID)[int(idx[0])].as_py())
        # cut after the event_id and before the closing brace, at varying places
        broken = [s[: keep + (len(s) - keep) * (1 + i % 7) // 9] + "\n" for i, s in enumerate(full)]
        lines = pc.replace_with_mask(lines, mask, pa.array(broken, _LARGE))
    return lines


def _write_catalog(path: Path) -> None:
    import csv

    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(col.CATALOG_COLUMNS)
        for it in _ITEMS:
            w.writerow(
                [
                    it.code,
                    it.name,
                    it.department,
                    it.complexity,
                    it.time_limit_days,
                    "true" if it.online_capable else "false",
                ]
            )


def _write_roster(path: Path, tm: _Time, plan: _Plan) -> None:
    import csv

    dates = [(tm.start + timedelta(days=d)).isoformat() for d in range(tm.days)]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(col.ROSTER_COLUMNS)
        fields = {
            col.DATE: 0,
            col.DEPARTMENT: 1,
            col.CENTER: 2,
            col.OFFICIALS_ON_DUTY: 3,
        }
        order = [fields[c] for c in col.ROSTER_COLUMNS]
        for day in range(tm.days):
            for d, dept in enumerate(_DEPARTMENTS):
                units: list[tuple[str, int]] = []
                if plan.back_on_duty[d, day] > 0:
                    units.append(("", int(plan.back_on_duty[d, day])))
                for c, center in enumerate(_CENTERS):
                    if plan.desk_on_duty[d, c, day] > 0:
                        units.append((center, int(plan.desk_on_duty[d, c, day])))
                for center, on in units:
                    rec = (dates[day], dept, center, on)
                    w.writerow([rec[i] for i in order])


# --- planted special applications ---------------------------------------------------------------
def _special_apps(
    seed: int,
    n_apps: int,
    cat: _Catalog,
    pop: _Population,
    tm: _Time,
    n_grid: int,
    spike_extra: int,
) -> tuple[_Apps, list[dict[str, object]], list[dict[str, object]]]:
    """Bundles, place bundles, small-n items and the queue spike's extra arrivals."""
    rng = _rng(seed, _ST_SPECIAL)
    parts: list[_Apps] = []
    bundles: list[dict[str, object]] = []
    for b in _BUNDLES:
        pool = pop.pools[b.pool]
        n = min(len(pool), max(5, round(b.rate * n_apps)))
        window = min(b.window_days, tm.days // 2)  # a short period shortens the window
        members = rng.choice(pool, size=n, replace=False)
        # whole days from an anchor day: all the items fall within `window` days (< window * 24h)
        anchor = rng.integers(0, tm.days - window + 1, n)
        for code in b.items:
            apps = _Apps.new(np.full(n, _ITEM[code]), members)
            apps.day = anchor + rng.integers(0, window, n)
            parts.append(apps)
        bundles.append(
            {
                "name": b.name,
                "items": sorted(b.items),
                "departments": sorted({_ITEMS[_ITEM[c]].department for c in b.items}),
                "segment": b.segment,
                "n_citizens": int(n),
                "window_days": window,
                "small_group": b.small_group,
            }
        )
    places: list[dict[str, object]] = []
    for name, items, window in _PLACE_BUNDLES:
        n = max(5, round(_PLACE_BUNDLE_RATE * n_apps))
        cells = rng.choice(n_grid, size=n, replace=False)
        incident = rng.integers(0, tm.days - window + 1, n)
        for code in items:
            reports = rng.integers(1, 3, n)  # 1-2 reports of each problem per place
            cell = np.repeat(cells, reports)
            item = np.full(len(cell), _ITEM[code])
            apps = _Apps.new(item, _draw_citizens(rng, item, cat, pop))
            apps.location = cell.astype(np.int64)
            apps.day = np.repeat(incident, reports) + rng.integers(0, window, len(cell))
            parts.append(apps)
        places.append(
            {
                "name": name,
                "items": sorted(items),
                "departments": sorted({_ITEMS[_ITEM[c]].department for c in items}),
                "n_places": int(n),
                "window_days": window,
            }
        )
    for code, count in _SMALL_N.items():
        item = np.full(count, _ITEM[code])
        parts.append(_Apps.new(item, _draw_citizens(rng, item, cat, pop)))
    # the queue spike: extra counter arrivals at one centre in a few hours of one day
    got: list[_Apps] = []
    need = spike_extra
    while need > 0:  # draw ordinary applications and keep the counter ones at that centre
        cand = _complete(
            rng, _draw_background(rng, 20 * need + 200, cat, pop), cat, pop, tm, n_grid
        )
        ok = np.nonzero((cand.channel == _COUNTER) & (cand.center == _SPIKE_CENTER))[0][:need]
        got.append(cand.take(ok))
        need -= ok.size
    if got:
        spike = _Apps.concat(got)
        hours = rng.choice(_SPIKE_HOURS, len(spike))
        spike.t0 = tm.spike_day * _DAY + hours * 3600.0 + rng.uniform(0, 3600, len(spike))
        spike.day = np.full(len(spike), tm.spike_day, dtype=np.int64)
        parts.append(spike)
    return _Apps.concat(parts), bundles, places


# --- the entry point ------------------------------------------------------------------------------
def _validate(
    n_events: int, seed: int, start: object, days: int, fmt: str, chunk_events: int
) -> None:
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(start, date) or isinstance(start, datetime):
        raise ValueError(f"start must be a date (YYYY-MM-DD), got {start!r}")
    if n_events < 1000:
        raise ValueError(f"n_events must be at least 1000, got {n_events}")
    if days < 7:
        raise ValueError(f"days must be at least 7, got {days}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if chunk_events < 1000:
        raise ValueError(f"chunk_events must be at least 1000, got {chunk_events}")


@dataclass
class _World:
    """Everything fixed before the chunks are written."""

    seed: int
    cat: _Catalog
    tm: _Time
    plan: _Plan
    pop: _Population
    n_grid: int
    n_apps: int
    special: _Apps  # planted applications: bundles, place bundles, small-n items, queue spike
    bundles: list[dict[str, object]]
    places: list[dict[str, object]]
    hotspots: dict[str, object] | None = None


def _multi_report_places(
    seed: int, n_apps: int, cat: _Catalog, pop: _Population, tm: _Time, n_grid: int
) -> tuple[_Apps, dict[str, object]]:
    """Hotspots: places with 5-15 reports of one problem within the place window, for each
    item of _HOTSPOT_ITEMS; 40% of the first (popular) item's hotspots also get 1-2 reports of
    _HOTSPOT_CO_ITEM (a planted co-location), and 30% of all hotspots get 1-2 reports of
    _HOTSPOT_INDEPENDENT_ITEM whatever their problem (co-located with the popular item by
    chance only). Its own random stream: the rest of the city is unchanged."""
    rng = _rng(seed, _ST_HOTSPOTS)
    n = max(10, round(_HOTSPOT_RATE * n_apps))
    window = 3
    cells = rng.choice(n_grid, size=n * len(_HOTSPOT_ITEMS), replace=False)
    day0 = rng.integers(0, tm.days - window + 1, len(cells))
    kind = np.repeat(np.arange(len(_HOTSPOT_ITEMS)), n)
    parts: list[_Apps] = []

    def reports(code: str, at: np.ndarray, k: np.ndarray) -> None:
        item = np.full(int(k.sum()), _ITEM[code])
        apps = _Apps.new(item, _draw_citizens(rng, item, cat, pop))
        apps.location = np.repeat(cells[at], k).astype(np.int64)
        apps.day = np.repeat(day0[at], k) + rng.integers(0, window, len(item))
        parts.append(apps)

    for j, code in enumerate(_HOTSPOT_ITEMS):
        at = np.nonzero(kind == j)[0]
        reports(code, at, rng.integers(*_HOTSPOT_REPORTS, len(at)))
    popular = np.nonzero(kind == 0)[0]
    co = rng.choice(popular, size=round(_HOTSPOT_CO_SHARE * n), replace=False)
    reports(_HOTSPOT_CO_ITEM, co, rng.integers(1, 3, len(co)))
    ind = np.nonzero(rng.random(len(cells)) < _HOTSPOT_INDEPENDENT_SHARE)[0]
    reports(_HOTSPOT_INDEPENDENT_ITEM, ind, rng.integers(1, 3, len(ind)))
    popular_code, co_items = _HOTSPOT_ITEMS[0], sorted((_HOTSPOT_ITEMS[0], _HOTSPOT_CO_ITEM))
    truth = {
        "items": list(_HOTSPOT_ITEMS),
        "n_places_per_item": int(n),
        "reports_per_place": [_HOTSPOT_REPORTS[0], _HOTSPOT_REPORTS[1] - 1],
        "co_located": {
            "name": "busy_place_co_location",
            "items": co_items,
            "departments": sorted({_ITEMS[_ITEM[c]].department for c in co_items}),
            "n_places": len(co),
            "window_days": window,
        },
        "independent": sorted((popular_code, _HOTSPOT_INDEPENDENT_ITEM)),
        "n_independent_with_popular": int(np.isin(ind, popular).sum()),
    }
    return _Apps.concat(parts), truth


def _build_world(
    n_events: int,
    seed: int,
    start: date,
    days: int,
    multi_report_places: bool = False,
    variant: MonitorVariant | None = None,
) -> _World:
    cat = _catalog()
    tm = _build_time(seed, start, days, variant)
    # A pilot sample of applications gives the demand shares (for staffing and workload) and
    # the mean events per application (to hit n_events).
    rng = _rng(seed, _ST_PILOT)
    pilot_pop = _population(rng, 40_000, 4_000)
    pilot = _complete(rng, _draw_background(rng, 40_000, cat, pilot_pop), cat, pilot_pop, tm, 1000)
    cls_share = np.bincount(_CLASS_OF_CHANNEL[pilot.channel], minlength=4) / len(pilot)
    intake = (cls_share[:, None] * tm.day_weight).sum(axis=0)
    plan = _plan(seed, tm, cat, *_demand_shares(pilot, cat), intake)
    rows, _ = _simulate(rng, pilot, cat, tm, plan)
    # re-plan on the simulated steps, so that planned workload counts every step
    plan = _plan(seed, tm, cat, *_row_shares(rows, len(pilot)), intake)
    n_apps = max(50, round(n_events / (len(rows.app) / len(pilot))))

    pop = _population(
        _rng(seed, _ST_POPULATION), max(2000, round(0.7 * n_apps)), max(300, round(0.07 * n_apps))
    )
    # sparse enough that unrelated reports rarely meet in one cell within a few days
    n_grid = max(1000, round(10 * cat.weight[cat.place].sum() * n_apps))
    # the queue spike adds (factor - 1) times the counter arrivals expected at that time
    counter_share = ((rows.channel == _COUNTER) & (rows.center == _SPIKE_CENTER)).sum() / len(pilot)
    cdf = tm.tod_cdf[_SPIKE_CENTER, tm.daytype[tm.spike_day]]
    in_hours = sum(cdf[2 * h + 1] - cdf[2 * h - 1] for h in _SPIKE_HOURS)
    expected = n_apps * counter_share * tm.day_weight[0][tm.spike_day] / days * in_hours
    spike_extra = max(10, round((tm.spike_factor - 1.0) * expected)) if tm.spike_factor > 1.0 else 0
    special, bundles, places = _special_apps(seed, n_apps, cat, pop, tm, n_grid, spike_extra)
    hotspots = None
    if multi_report_places:
        extra, hotspots = _multi_report_places(seed, n_apps, cat, pop, tm, n_grid)
        special = _Apps.concat([special, extra])
    return _World(seed, cat, tm, plan, pop, n_grid, n_apps, special, bundles, places, hotspots)


@dataclass
class _Tally:
    """Running totals over the chunks."""

    planned: dict[str, int]
    n_valid: int = 0
    n_written: int = 0
    n_open: int = 0
    n_applications: int = 0
    next_event: int = 1
    next_app: int = 1

    def __post_init__(self) -> None:
        self.written = {k: 0 for k in self.planned}
        self.ids: dict[str, list[str]] = {k: [] for k in self.planned}


def _write_chunk(
    world: _World,
    ci: int,
    apps: _Apps,
    counts: dict[str, int],
    path: Path,
    fmt: str,
    fmt_: _Formatter,
    tally: _Tally,
    has_app: np.ndarray,
) -> None:
    """Simulates one chunk of applications, plants its dirty rows and writes the part."""
    rng = _rng(world.seed, _ST_CHUNK, ci)
    apps = _complete(rng, apps, world.cat, world.pop, world.tm, world.n_grid)
    apps = apps.take(np.argsort(apps.t0, kind="stable"))  # application ids follow time
    rows, is_open = _simulate(rng, apps, world.cat, world.tm, world.plan)
    table = fmt_.table(rows, apps, tally.next_app)
    has_app[apps.citizen[apps.citizen >= 0]] = True
    tally.n_open += int(is_open.sum())
    tally.n_applications += len(apps)
    tally.next_app += len(apps)

    drng = _rng(world.seed, _ST_DIRTY, ci)
    extras = _extras(drng, table, rows, counts, fmt_, world.tm.end_s)
    n, m = table.num_rows, extras.table.num_rows
    # extra rows go to random places among the valid ones
    order = np.argsort(
        np.concatenate([np.arange(n, dtype=float), drng.uniform(0, n, m)]), kind="stable"
    )
    final = pa.concat_tables([table, extras.table]).take(pa.array(order))
    del table
    kinds = list(tally.planned)
    code = np.array([kinds.index(r) for r in extras.reason], dtype=np.int64)
    code_final = np.concatenate([np.full(n, -1, dtype=np.int64), code])[order]
    dup_codes = [kinds.index(col.DUPLICATE_EXACT), kinds.index(col.DUPLICATE_SAME_EVENT)]
    # event ids are numbered in file order; a duplicate takes the id of the row it copies
    is_dup = np.isin(code_final, dup_codes)
    numbers = np.zeros(n + m, dtype=np.int64)
    numbers[~is_dup] = tally.next_event + np.arange(int((~is_dup).sum()))
    tally.next_event += int((~is_dup).sum())
    position = np.empty(n + m, dtype=np.int64)
    position[order] = np.arange(n + m)
    extra_dup = np.isin(code, dup_codes)
    numbers[position[n:][extra_dup]] = numbers[position[extras.source[extra_dup]]]
    event_ids = fmt_.ids("EV", numbers, 9)
    final = final.add_column(0, col.EVENT_ID, event_ids).select(list(col.EVENT_COLUMNS))
    malformed = code_final == kinds.index(Reason.MALFORMED_ROW)
    tally.n_written += _write_part(path, final, malformed, fmt)
    tally.n_valid += n
    extra_pos = np.nonzero(code_final >= 0)[0]
    for p_, eid in zip(extra_pos, event_ids.take(pa.array(extra_pos)).to_pylist(), strict=True):
        reason = kinds[code_final[p_]]
        if reason == Reason.MALFORMED_ROW and fmt == "parquet":
            continue  # a Parquet file cannot hold a malformed row
        tally.written[reason] += 1
        tally.ids[reason].append(eid)


def generate(
    out_dir: str | Path,
    *,
    n_events: int = 200_000,
    seed: int = 7,
    start: date = date(2026, 3, 1),
    days: int = 31,
    fmt: Format = "csv",
    dirty: bool = True,
    chunk_events: int = 500_000,
    progress: Callable[[int, int], None] | None = None,
    quality_via: str = "time",
    multi_report_places: bool = False,
    variant: MonitorVariant | None = None,
) -> dict:
    """Write a synthetic city's service logs under ``out_dir`` and return the planted truth.

    Writes ``events/part-*.<fmt>``, ``catalog.csv``, ``roster.csv`` and ``truth.json`` (see the
    module docstring for the files and every truth key). About ``n_events`` valid event rows
    are written (typically within 2%), plus about 0.8% dirty and duplicate rows if ``dirty``.
    ``progress(done_events, total_events)`` is called after each chunk with the valid events
    written so far (clamped to ``total_events`` = ``n_events``, and equal to it at the end).
    ``quality_via`` says what ``department_quality`` acts on: ``"time"`` (default) waiting,
    processing and hand-off times (satisfaction and on-time rates follow), ``"experience"``
    satisfaction only, at twice the weight (durations, on-time rates and backlogs then carry
    no quality signal), ``"visits"`` return trips only: the chance of a supplement trip and of
    collecting the result in person, x quality^2 (ratings follow the extra visits; no direct
    effect on durations or ratings). Variants for checking that scores do not lean on one
    pillar.
    Existing ``events/part-*`` files in ``out_dir`` are replaced. ``multi_report_places`` adds
    busy places with many reports of one problem (truth key ``multi_report_places``).
    ``variant`` (``MonitorVariant``): the live-monitoring knobs (spike size, quiet month, holiday
    week).

    Raises:
        ValueError: on bad arguments (n_events < 1000, days < 7, unknown fmt, ...).
    """
    _validate(n_events, seed, start, days, fmt, chunk_events)
    if quality_via not in _QUALITY_VIA:
        raise ValueError(
            f"quality_via must be one of {', '.join(_QUALITY_VIA)}, got {quality_via!r}"
        )
    out = Path(out_dir)
    world = _build_world(n_events, seed, start, days, multi_report_places, variant)
    world.cat = dataclasses.replace(world.cat, quality_via=quality_via)
    tm, pop = world.tm, world.pop

    n_chunks = max(1, math.ceil(n_events / chunk_events))
    special_chunk = _rng(seed, _ST_SPECIAL, 1).permutation(len(world.special)) % n_chunks
    bg_counts = _split_counts(max(0, world.n_apps - len(world.special)), n_chunks)
    per_kind = max(_MIN_PER_KIND, round(_DIRTY_SHARE * n_events / len(_DIRTY_KINDS)))
    per_dup = max(_MIN_PER_KIND, round(_DUPLICATE_SHARE * n_events / 2))
    planned = {k: per_kind if dirty else 0 for k in _DIRTY_KINDS}
    planned |= {k: per_dup if dirty else 0 for k in (col.DUPLICATE_EXACT, col.DUPLICATE_SAME_EVENT)}
    chunk_counts = {k: _split_counts(v, n_chunks) for k, v in planned.items()}

    events_dir = out / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    for old in events_dir.glob("part-*"):
        old.unlink()
    _write_catalog(out / "catalog.csv")
    _write_roster(out / "roster.csv", tm, world.plan)

    fmt_ = _Formatter(tm, pop)
    has_app = np.zeros(pop.n_ind + pop.n_ent, dtype=bool)
    tally = _Tally(planned)
    for ci in range(n_chunks):
        background = _draw_background(_rng(seed, _ST_CHUNK, ci, 1), bg_counts[ci], world.cat, pop)
        apps = _Apps.concat([background, world.special.take(special_chunk == ci)])
        counts = {k: v[ci] for k, v in chunk_counts.items()}
        path = events_dir / f"part-{ci:05d}.{fmt}"
        _write_chunk(world, ci, apps, counts, path, fmt, fmt_, tally, has_app)
        if progress is not None:
            done = n_events if ci == n_chunks - 1 else min(tally.n_valid, n_events)
            progress(done, n_events)

    truth = _truth(world, start, days, fmt, tally, has_app)
    (out / "truth.json").write_text(
        json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return truth


def _truth(
    world: _World, start: date, days: int, fmt: str, tally: _Tally, has_app: np.ndarray
) -> dict:
    """The truth.json document (keys documented in the module docstring)."""
    tm, pop = world.tm, world.pop
    n_baskets = int(has_app.sum())
    bundles = []
    for b in world.bundles:
        seg = b["segment"]
        if seg is None:
            seg_baskets = n_baskets
        elif "age_band" in seg:  # type: ignore[operator]
            band = _AGE_BANDS.index(seg["age_band"])  # type: ignore[index]
            seg_baskets = int(has_app[: pop.n_ind][pop.age == band].sum())
        else:
            seg_baskets = int(has_app[pop.n_ind :].sum())
        n = int(b["n_citizens"])  # type: ignore[call-overload]
        bundles.append(
            {
                **b,
                "planted_support": round(n / max(1, n_baskets), 4),
                "planted_support_in_segment": round(n / max(1, seg_baskets), 4),
            }
        )
    period_start = datetime.combine(start, time(0), _TZ)
    period_end = period_start + timedelta(days=days)
    dups = (col.DUPLICATE_EXACT, col.DUPLICATE_SAME_EVENT)
    return {
        "period_start": period_start.isoformat(),
        "period_end": period_end.isoformat(),
        "time_zone": TIME_ZONE,
        "seed": world.seed,
        "format": fmt,
        "n_events_valid": tally.n_valid,
        "n_rows_written": tally.n_written,
        "n_applications": tally.n_applications,
        "n_open_applications": tally.n_open,
        "bundles": bundles,
        "place_bundles": world.places + ([world.hotspots["co_located"]] if world.hotspots else []),
        "multi_report_places": world.hotspots,
        "independent_popular": list(_INDEPENDENT_POPULAR),
        "lagging_steps": [
            {
                "service_item": code,
                "step": step,
                "department": dict(_ITEMS[_ITEM[code]].steps)[step],
                "kind": kind,
                "factor": factor,
            }
            for code, step, kind, factor in _LAGS
        ],
        "small_n_items": sorted(_SMALL_N),
        "understaffed": {
            "department": _UNDERSTAFFED_DEPT,
            "dates": [(start + timedelta(days=int(d))).isoformat() for d in tm.understaffed_days],
            "staffing_factor": _UNDERSTAFFED_FACTOR,
        },
        "department_quality": dict(_DEPARTMENT_QUALITY),
        "quality_via": world.cat.quality_via,
        "queue_spike": {
            "center": _CENTERS[_SPIKE_CENTER],
            "date": (start + timedelta(days=tm.spike_day)).isoformat(),
            "hours": list(_SPIKE_HOURS),
            "arrival_factor": tm.spike_factor,
        }
        if tm.spike_factor > 1.0
        else None,
        "holiday_week": [(start + timedelta(days=d)).isoformat() for d in tm.holiday_days],
        "new_item": {
            "service_item": _ITEMS[tm.new_item].code,
            "department": _ITEMS[tm.new_item].department,
            "live_from": (start + timedelta(days=tm.new_item_day)).isoformat(),
        }
        if tm.new_item >= 0
        else None,
        "peak_hours": {c: list(h) for c, h in zip(_CENTERS, _PEAK_HOURS, strict=True)},
        "understaffed_center": {
            "center": _CENTERS[_UNDERSTAFFED_CENTER],
            "staffing_factor": _UNDERSTAFFED_CENTER_FACTOR,
            "shortfall_officials": world.plan.shortfall,
        },
        "workload_elasticity": {
            "waiting": _EL_WAIT,
            "processing": _EL_PROC,
            "handoff": _EL_HANDOFF,
        },
        "dirty": {k: tally.written[k] for k in _DIRTY_KINDS},
        "dirty_event_ids": {k: tally.ids[k] for k in _DIRTY_KINDS},
        "duplicates": {k: tally.written[k] for k in dups},
        "duplicate_event_ids": {k: tally.ids[k] for k in dups},
    }
