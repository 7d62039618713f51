"""Small test cities for lagging steps, with knobs the main generator does not turn.

``generate_lagging_variant(out_dir, ...)`` writes a small city in the input contract v1 (the
same files as ``visitonce.generate``: ``events/part-00000.parquet`` with string columns,
``catalog.csv``, ``roster.csv``, ``truth.json``) whose durations follow other assumptions than
``visitonce generate``'s, so that the lagging method is not only judged on the generator it was
tuned on. Knobs:

- ``time_model``: ``"office"`` (desks open 08:30-16:30 on weekdays; back-office hand-offs and
  processing advance in working time, 08:30-17:30 Monday-Friday) or ``"continuous"`` (arrivals
  at any hour of any day, everything in calendar time);
- ``heterogeneity``: spread of base durations across the items of one department, ``1`` (all
  alike) to ``100`` (the slowest item is 100x the fastest), log-evenly spaced around the base
  (``1/sqrt(h)`` to ``sqrt(h)`` times it);
- ``handoff_hours``: mean hand-off gap before each back-office step;
- ``nightly_batch``: back-office steps are recorded by a nightly batch: ``ended_at`` is the next
  02:00 local after the work ended, and the next step can start only after that;
- ``understaffed``: department ``D3`` has half the officials of the others on every unit and day
  (roster), and every one of its steps (waiting, processing, hand-off) takes ``2.2x`` as long.

City: departments D1-D3, four items each (``D1_I1``...), steps accept (at a desk in centre C1,
C2 or C3: waiting and processing), review, approve, deliver (back office). Planted lags (factor
3, not explained by workload), in ``truth.json`` ``lagging_steps`` as ``{service_item, step,
department, kind, factor, center}``: D1_I3 review processing, D2_I3 approve hand-off, D2_I4
approve processing, and D1_I1 accept waiting at centre C2 only (``center`` set: one hall slower
than the rest). Each also carries what the log shows of it, ``recorded_factor`` and
``recorded_excess_s`` (medians of the recorded durations with and without the lag, same draws;
``recorded_work_*`` in working time); ``recoverable`` says whether a lag is in the data at all.
``understaffed``: ``{department, staffing_factor, slowdown}`` or null. Every
code (items, departments, steps) can carry a ``prefix`` so that several variants can be
analysed in one run without sharing anything but the run.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from visitonce import columns as col

_TZ = timezone(timedelta(hours=8))
_CENTERS = ("C1", "C2", "C3")
_DEPTS = ("D1", "D2", "D3")
_BACK_STEPS = (("review", 3.0 * 3600), ("approve", 1.5 * 3600), ("deliver", 0.7 * 3600))
_LAGS = (
    ("D1_I3", "review", "processing", 3.0, None),
    ("D2_I3", "approve", "handoff", 3.0, None),
    ("D2_I4", "approve", "processing", 3.0, None),
    ("D1_I1", "accept", "waiting", 3.0, "C2"),
)
_UNDER_DEPT, _UNDER_STAFF, _UNDER_SLOW = "D3", 0.5, 2.2
_WORK_OPEN, _WORK_CLOSE = 8.5 * 3600, 17.5 * 3600

# The columns of the rows this module builds, in their order; the contract's other columns
# (such as due_at) are written empty.
_ROW_COLUMNS: tuple[str, ...] = tuple(c for c in col.EVENT_COLUMNS if c != col.DUE_AT)


def _work_add(t: float, work: float) -> float:
    """Local seconds ``t`` plus ``work`` working seconds (08:30-17:30, Monday-Friday)."""
    while True:
        day = np.floor(t / 86_400) * 86_400
        weekday = (int(t // 86_400) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        lo, hi = day + _WORK_OPEN, day + _WORK_CLOSE
        if weekday >= 5 or t >= hi:
            t = day + 86_400 + _WORK_OPEN
            continue
        t = max(t, lo)
        if t + work <= hi:
            return t + work
        work -= hi - t
        t = day + 86_400 + _WORK_OPEN


def _work_between(a: float, b: float) -> float:
    """Working seconds (08:30-17:30, Monday-Friday) between local seconds ``a`` and ``b``."""
    total, day = 0.0, np.floor(a / 86_400) * 86_400
    while day < b:
        if (int(day // 86_400) + 3) % 7 < 5:
            total += max(0.0, min(b, day + _WORK_CLOSE) - max(a, day + _WORK_OPEN))
        day += 86_400
    return total


def _recorded_effect(spans: list[tuple[float, float, float]]) -> dict:
    """What the log shows of one planted lag, from (begin, recorded end, end the log would show
    without the lag) per case: the median recorded duration against the median without the lag,
    on the wall clock (``recorded_factor``, ``recorded_excess_s``) and in working time
    (``recorded_work_factor``, ``recorded_work_excess_s``)."""
    out = {}
    for name, span in (("", lambda a, b: b - a), ("work_", _work_between)):
        lagged = float(np.median([span(a, e) for a, e, _ in spans]))
        without = float(np.median([span(a, e0) for a, _, e0 in spans]))
        out[f"recorded_{name}factor"] = lagged / max(without, 1.0)
        out[f"recorded_{name}excess_s"] = lagged - without
    return out


def recoverable(planted: dict, *, min_effect: float, material_s: dict[str, float]) -> bool:
    """Whether a planted lag is in the data at all: on the wall clock or in working time, its
    recorded median is at least ``min_effect`` times and ``material_s[kind]`` seconds above what
    the log would show without it. A nightly stamp erases a 1.5-hour approval that takes 4.5
    hours (both are stamped at the next 02:00), and a 3x hand-off of 30 minutes is not material:
    no method should flag those, and recall is counted over the rest."""
    return any(
        planted[f"recorded_{b}factor"] >= min_effect
        and planted[f"recorded_{b}excess_s"] >= material_s[planted["kind"]]
        for b in ("", "work_")
    )


def generate_lagging_variant(
    out_dir: str | Path,
    *,
    seed: int = 1,
    days: int = 28,
    start: date = date(2026, 3, 2),
    apps_per_item_day: float = 4.0,
    time_model: str = "office",
    heterogeneity: float = 1.0,
    handoff_hours: float = 1.5,
    nightly_batch: bool = False,
    understaffed: bool = True,
    prefix: str = "",
) -> dict:
    """Writes one variant city under ``out_dir`` and returns its truth (see the module doc)."""
    if time_model not in ("office", "continuous"):
        raise ValueError(f"time_model must be 'office' or 'continuous', not {time_model!r}")
    if not 1.0 <= heterogeneity <= 1000.0:
        raise ValueError("heterogeneity must be between 1 and 1000")
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    (out / "events").mkdir(parents=True, exist_ok=True)
    t0 = datetime.combine(start, time(0), _TZ)
    epoch_local = (t0.replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds()
    end_local = epoch_local + days * 86_400
    items = []
    for d in _DEPTS:
        scales = heterogeneity ** np.linspace(-0.5, 0.5, 4)
        scales = scales[np.array([0, 1, 3, 2])]  # lags sit in the larger items (I3, I4)
        for k in range(4):
            items.append((f"{prefix}{d}_I{k + 1}", f"{prefix}{d}", float(scales[k])))
    lag = {(prefix + i, prefix + s, kind): (f, c) for i, s, kind, f, c in _LAGS}

    def ln(mean: float) -> float:
        sigma = 0.5
        return float(rng.lognormal(np.log(mean) - sigma**2 / 2, sigma))

    def lag_of(item: str, step: str, kind: str, center: str | None = None) -> float:
        f, c = lag.get((item, step, kind), (1.0, None))
        return f if c is None or c == center else 1.0

    def iso(local_s: float | None) -> str | None:
        if local_s is None:
            return None
        return (datetime(1970, 1, 1) + timedelta(seconds=local_s)).isoformat(
            timespec="seconds"
        ) + "+08:00"

    def stamp(e: float) -> float:
        return (np.floor((e - 2 * 3600) / 86_400) + 1) * 86_400 + 2 * 3600 if nightly_batch else e

    def advance(t: float, d: float) -> float:
        return _work_add(t, d) if time_model == "office" else t + d

    # Per planted lag, the durations the log records and what it would record without the lag
    # (the same draws, divided by the factor): a nightly stamp can erase a lag from the data.
    recorded: dict[tuple, list[tuple[float, float, float]]] = {k: [] for k in lag}
    rows: list[list] = []
    n_app = 0
    for item, dept, scale in items:
        slow = _UNDER_SLOW if understaffed and dept == f"{prefix}{_UNDER_DEPT}" else 1.0
        for day in range(days):
            t_day = epoch_local + day * 86_400
            weekday = (start + timedelta(days=day)).weekday()
            if time_model == "office" and weekday >= 5:
                continue
            for _ in range(
                rng.poisson(apps_per_item_day * (7 / 5 if time_model == "office" else 1))
            ):
                n_app += 1
                app = f"{prefix}A{n_app:06d}"
                if time_model == "office":
                    arrive = t_day + rng.uniform(8.5 * 3600, 16.5 * 3600)
                else:
                    arrive = t_day + rng.uniform(0, 86_400)
                center = _CENTERS[int(rng.integers(len(_CENTERS)))]
                wait = ln(12 * 60 * slow * lag_of(item, f"{prefix}accept", "waiting", center))
                proc = ln(
                    8 * 60 * scale**0.25 * slow * lag_of(item, f"{prefix}accept", "processing")
                )
                started = arrive + wait
                ended = started + proc
                key = (item, f"{prefix}accept", "waiting")
                if key in recorded and lag_of(*key, center) != 1.0:
                    recorded[key].append((arrive, started, arrive + wait / lag_of(*key, center)))
                steps = [(f"{prefix}accept", center, arrive, started, ended, True)]
                prev_end = ended
                for step, base in _BACK_STEPS:
                    s = f"{prefix}{step}"
                    f_gap, f_work = lag_of(item, s, "handoff"), lag_of(item, s, "processing")
                    gap = ln(handoff_hours * 3600 * slow * f_gap)
                    work = ln(base * scale * slow * f_work)
                    b = advance(prev_end, gap)
                    e = stamp(advance(b, work))
                    if (item, s, "handoff") in recorded:
                        b0 = advance(prev_end, gap / f_gap)
                        recorded[(item, s, "handoff")].append((prev_end, b, b0))
                    if (item, s, "processing") in recorded:
                        e0 = stamp(advance(b, work / f_work))
                        recorded[(item, s, "processing")].append((b, e, e0))
                    steps.append((s, None, None, b, e, False))
                    prev_end = e
                for s, c, arr, b, e, desk in steps:
                    if b >= end_local:
                        break
                    rows.append(
                        [
                            f"{app}-{s}",
                            app,
                            f"P{n_app:07d}",
                            "individual",
                            item,
                            dept,
                            "counter",
                            c,
                            "330102",
                            None,
                            s,
                            None,
                            iso(arr),
                            iso(b),
                            iso(e if e < end_local else None),
                            "true" if desk else "false",
                            None,
                            "30-44",
                        ]
                    )
                    if e >= end_local:
                        break
    at = {c: i for i, c in enumerate(_ROW_COLUMNS)}
    table = pa.table(
        {
            c: pa.array([r[at[c]] if c in at else None for r in rows], pa.string())
            for c in col.EVENT_COLUMNS
        }
    )
    pq.write_table(table, out / "events" / "part-00000.parquet")
    with (out / "catalog.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(col.CATALOG_COLUMNS)
        for item, dept, _ in items:
            w.writerow([item, item, dept, 3, 10, "true"])
    with (out / "roster.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(col.ROSTER_COLUMNS)
        for day in range(days):
            dstr = (start + timedelta(days=day)).isoformat()
            for d in _DEPTS:
                f = _UNDER_STAFF if understaffed and d == _UNDER_DEPT else 1.0
                units = [("", round(8 * f))] + [(c, round(4 * f)) for c in _CENTERS]
                for c, on in units:
                    rec = {"date": dstr, "department": prefix + d, "center": c}
                    rec["officials_on_duty"] = on
                    w.writerow([rec[k] for k in col.ROSTER_COLUMNS])
    truth = {
        "period_start": t0.isoformat(),
        "period_end": (t0 + timedelta(days=days)).isoformat(),
        "time_zone": "Asia/Shanghai",
        "variant": {
            "time_model": time_model,
            "heterogeneity": heterogeneity,
            "handoff_hours": handoff_hours,
            "nightly_batch": nightly_batch,
            "understaffed": understaffed,
            "seed": seed,
            "days": days,
        },
        "n_events": len(rows),
        "lagging_steps": [
            {
                "service_item": prefix + i,
                "step": prefix + s,
                "department": prefix + i.split("_")[0],
                "kind": kind,
                "factor": f,
                "center": c,
                **_recorded_effect(recorded[(prefix + i, prefix + s, kind)]),
            }
            for i, s, kind, f, c in _LAGS
        ],
        "understaffed": (
            {
                "department": prefix + _UNDER_DEPT,
                "staffing_factor": _UNDER_STAFF,
                "slowdown": _UNDER_SLOW,
            }
            if understaffed
            else None
        ),
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return truth
