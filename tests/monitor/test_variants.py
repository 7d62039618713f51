"""Generator variants of the live-monitoring measurement (issue 25): a quiet month plants no
spike, a holiday week cuts demand on its dates, a bigger spike adds more arrivals."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from visitonce.generate import MonitorVariant, generate


def _events(root) -> pd.DataFrame:
    ev = pd.read_parquet(root / "events")
    ev["t"] = pd.to_datetime(ev["arrived_at"].fillna(ev["started_at"]), utc=True)
    ev["day"] = ev["t"].dt.tz_convert("Asia/Shanghai").dt.date
    return ev


def test_quiet_holiday_and_spike_sizes(tmp_path) -> None:
    kw = {"n_events": 20_000, "seed": 3, "days": 28, "fmt": "parquet", "dirty": False}
    quiet = generate(
        tmp_path / "q", variant=MonitorVariant(spike_factor=1.0, holiday_week=True), **kw
    )
    big = generate(tmp_path / "b", variant=MonitorVariant(spike_factor=6.0), **kw)
    assert quiet["queue_spike"] is None and big["queue_spike"]["arrival_factor"] == 6.0
    holiday = {dt.date.fromisoformat(d) for d in quiet["holiday_week"]}
    assert len(holiday) == 7 and big["holiday_week"] == []
    q = _events(tmp_path / "q")
    per_day = q.sort_values("t").groupby("application_id")["day"].first().value_counts()
    inside = per_day[per_day.index.isin(holiday)].mean()
    outside = per_day[~per_day.index.isin(holiday)].mean()
    assert inside < 0.6 * outside, (inside, outside)  # new applications: factor 0.4, day noise
    # the spike's hours at its centre: 6x the usual counter arrivals, none planted when quiet
    spike = big["queue_spike"]
    b = _events(tmp_path / "b")
    local = b["t"].dt.tz_convert("Asia/Shanghai")
    at = (b["center"] == spike["center"]) & (b["channel"] == "counter")
    at &= local.dt.hour.isin(spike["hours"])
    day = dt.date.fromisoformat(spike["date"])
    on_day = (at & (b["day"] == day)).sum()
    same_weekday = at & (local.dt.weekday == day.weekday()) & (b["day"] != day)
    usual = same_weekday.sum() / b.loc[same_weekday, "day"].nunique()
    assert on_day > 3 * usual, (on_day, usual)


def test_the_spike_day_can_be_moved_after_a_launch(tmp_path) -> None:
    kw = {"n_events": 5_000, "seed": 3, "days": 28, "fmt": "parquet", "dirty": False}
    truth = generate(
        tmp_path / "s",
        variant=MonitorVariant(new_item="PSB_ID_RENEW", new_item_day=14, spike_day=20),
        **kw,
    )
    start = dt.date.fromisoformat(truth["period_start"][:10])
    day = dt.date.fromisoformat(truth["queue_spike"]["date"])
    live = dt.date.fromisoformat(truth["new_item"]["live_from"])
    assert day >= start + dt.timedelta(days=20) and day > live and day.weekday() < 5
    under = set(truth["understaffed"]["dates"])
    assert truth["queue_spike"]["date"] not in under
