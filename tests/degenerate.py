"""Small service logs that lack parts of the input contract (issue 16's degenerate-input
matrix): one builder, so property tests (Hypothesis) and hand-picked cases draw from the same
space of inputs.

A log is described by a :class:`Shape`; :func:`write_log` writes its events (canonical CSV, or
a completion-only CSV read through a ``derive.started_at: previous_end`` mapping), and the
catalog and roster when the shape has them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from pathlib import Path

import pandas as pd

from visitonce import columns as C

# Optional columns of the events contract that a source may lack entirely.
OPTIONAL = (
    C.CITIZEN_ID,
    C.CITIZEN_TYPE,
    C.CENTER,
    C.DISTRICT,
    C.LOCATION,
    C.OFFICIAL,
    C.ARRIVED_AT,
    C.PHYSICAL_VISIT,
    C.SATISFACTION,
    C.AGE_BAND,
)
STEPS = ("accept", "review", "approve", "deliver")
START = dt.date(2026, 3, 2)  # a Monday


@dataclasses.dataclass(frozen=True)
class Shape:
    """What a small log has and lacks."""

    applications: int = 40
    items: int = 4
    departments: int = 2
    centres: int = 2
    days: int = 5
    drop: frozenset[str] = frozenset()  # optional event columns absent from the export
    catalog: bool = True
    roster: bool = True
    all_open: bool = False  # every case's last step still in progress
    completion_only: bool = False  # no start times: derived from the previous event's end
    empty_department: bool = False  # a catalog department with no application at all
    seed: int = 0

    def describe(self) -> str:
        parts = [f"{self.applications} apps", f"{self.items} items", f"{self.departments} depts"]
        parts += [f"{self.centres} centres", f"{self.days} days"]
        parts += [f"no {c}" for c in sorted(self.drop)]
        for flag in ("all_open", "completion_only", "empty_department"):
            if getattr(self, flag):
                parts.append(flag)
        parts += [f"no {t}" for t in ("catalog", "roster") if not getattr(self, t)]
        return ", ".join(parts)


def _departments(shape: Shape) -> list[str]:
    return [f"DEPT{d}" for d in range(max(shape.departments, 1))]


def _items(shape: Shape) -> list[tuple[str, str]]:
    """(item, department) pairs: every department has an item when there are enough."""
    depts = _departments(shape)
    return [(f"ITEM{i}", depts[i % len(depts)]) for i in range(max(shape.items, 1))]


def events_frame(shape: Shape) -> pd.DataFrame:
    """One row per step, in the canonical contract's columns (all present)."""
    rng = random.Random(shape.seed)
    items = _items(shape)
    centres = [f"CTR{c}" for c in range(max(shape.centres, 1))]
    citizens = [f"P{n:04d}" for n in range(max(shape.applications // 2, 1))]
    rows = []
    for a in range(shape.applications):
        item, dept = items[a % len(items)]
        day = START + dt.timedelta(days=rng.randrange(max(shape.days, 1)))
        t = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(minutes=rng.randrange(420))
        channel = rng.choice(("counter", "online", "counter", "mobile"))
        n_steps = rng.randint(1, 3)
        arrived = t - dt.timedelta(minutes=rng.randint(1, 40))
        for s in range(n_steps):
            took = dt.timedelta(minutes=rng.randint(2, 90))
            last = s == n_steps - 1
            rows.append(
                {
                    C.EVENT_ID: f"E{a:05d}-{s}",
                    C.APPLICATION_ID: f"A{a:05d}",
                    C.CITIZEN_ID: rng.choice(citizens),
                    C.CITIZEN_TYPE: rng.choice(C.CITIZEN_TYPES),
                    C.SERVICE_ITEM: item,
                    C.DEPARTMENT: dept,
                    C.CHANNEL: channel,
                    C.CENTER: rng.choice(centres),
                    C.DISTRICT: f"D{rng.randrange(3)}",
                    C.LOCATION: f"{rng.randrange(1, 9)} MAIN ST",
                    C.STEP: STEPS[s],
                    C.OFFICIAL: f"O{rng.randrange(6)}",
                    C.ARRIVED_AT: arrived.isoformat() if s == 0 and channel == "counter" else "",
                    C.STARTED_AT: t.isoformat(),
                    C.ENDED_AT: "" if (last and shape.all_open) else (t + took).isoformat(),
                    C.PHYSICAL_VISIT: "true" if channel == "counter" and s == 0 else "false",
                    C.SATISFACTION: str(rng.randint(1, 5)) if last else "",
                    C.AGE_BAND: rng.choice(("18-34", "35-59", "60+")),
                }
            )
            t = t + took + dt.timedelta(minutes=rng.randint(0, 30))
    return pd.DataFrame(rows, columns=list(C.EVENT_COLUMNS))


COMPLETION_ONLY_MAPPING = """\
name: completion-only
description: "A log of completions only, as most XES exports: no start times."
format: csv
columns:
  ended_at: completed
derive:
  started_at: previous_end
"""


def write_log(shape: Shape, folder: Path) -> dict[str, str | None]:
    """Write the log of ``shape`` under ``folder``; returns the run's inputs: ``events``,
    ``catalog``, ``roster`` (None when absent) and ``source`` (mapping name or path)."""
    folder.mkdir(parents=True, exist_ok=True)
    events = events_frame(shape).drop(columns=sorted(shape.drop))
    source = "canonical"
    if shape.completion_only:
        events = events.drop(columns=[C.STARTED_AT]).rename(columns={C.ENDED_AT: "completed"})
        # a completion-only log records closed steps only; an open step has no completion yet
        events = events[events["completed"] != ""]
        mapping = folder / "completion-only.yaml"
        mapping.write_text(COMPLETION_ONLY_MAPPING, encoding="utf-8")
        source = str(mapping)
    (folder / "events").mkdir(exist_ok=True)
    events.to_csv(folder / "events" / "events.csv", index=False)
    out: dict[str, str | None] = {
        "events": str(folder / "events"),
        "catalog": None,
        "roster": None,
        "source": source,
    }
    items = _items(shape)
    depts = sorted({d for _, d in items})
    if shape.catalog:
        rows = [
            {
                C.SERVICE_ITEM: item,
                C.ITEM_NAME: f"Item {item}",
                C.DEPARTMENT: dept,
                C.COMPLEXITY: 1 + n % 5,
                C.TIME_LIMIT_DAYS: 1 + n % 3,
                C.ONLINE_CAPABLE: "true" if n % 2 else "false",
            }
            for n, (item, dept) in enumerate(items)
        ]
        if shape.empty_department:
            rows.append(
                {
                    C.SERVICE_ITEM: "ITEM_UNUSED",
                    C.ITEM_NAME: "Never requested",
                    C.DEPARTMENT: "DEPT_EMPTY",
                    C.COMPLEXITY: 3,
                    C.TIME_LIMIT_DAYS: 5,
                    C.ONLINE_CAPABLE: "true",
                }
            )
        pd.DataFrame(rows).to_csv(folder / "catalog.csv", index=False)
        out["catalog"] = str(folder / "catalog.csv")
    if shape.roster:
        centres = [f"CTR{c}" for c in range(max(shape.centres, 1))]
        rows = [
            {
                C.DATE: (START + dt.timedelta(days=d)).isoformat(),
                C.DEPARTMENT: dept,
                C.OFFICIALS_ON_DUTY: 2 + (d + n) % 3,
                C.CENTER: centre,
            }
            for d in range(max(shape.days, 1))
            for n, dept in enumerate(depts + (["DEPT_EMPTY"] if shape.empty_department else []))
            for centre in centres
        ]
        pd.DataFrame(rows).to_csv(folder / "roster.csv", index=False)
        out["roster"] = str(folder / "roster.csv")
    return out


def as_of(shape: Shape) -> dt.datetime:
    """An observation time just after the log (open cases judged against it)."""
    end = START + dt.timedelta(days=max(shape.days, 1) + 1)
    return dt.datetime.combine(end, dt.time(0), tzinfo=dt.timezone(dt.timedelta(hours=8)))
