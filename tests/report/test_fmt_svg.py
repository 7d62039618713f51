"""How numbers are written and charts drawn: hand-worked cases."""

from __future__ import annotations

import datetime as dt
import math
import re

import pandas as pd

from visitonce.report import fmt, svg
from visitonce.report.model import slug


def test_number_formats() -> None:
    assert fmt.count(1234567) == "1,234,567" and fmt.count(None) == "–"
    assert fmt.fixed(31.25) == "31.25" and fmt.fixed(2.0, 1) == "2.0"
    assert fmt.fixed(float("nan")) == "–" and fmt.fixed(pd.NA) == "–"
    assert fmt.percent(0.0123) == "1.2%" and fmt.percent(0.2) == "20.0%"
    assert fmt.pvalue(0.0004) == "4.0e-04" and fmt.pvalue(0.004) == "0.004"
    assert fmt.pvalue(0.0) == "0.000"
    assert fmt.duration(600) == "10.0 min" and fmt.duration(86400) == "24.0 h"
    assert fmt.duration(259200) == "3.0 d" and fmt.duration(None) == "–"
    assert fmt.items(["a", "b"]) == "a, b" and fmt.items(None) == "–"


def test_timestamps_are_shown_in_the_analysis_zone() -> None:
    t = dt.datetime(2026, 3, 10, 1, 0)  # naive = UTC, as Spark returns it
    assert fmt.timestamp(t, time_zone="Asia/Shanghai") == "2026-03-10 09:00"
    assert fmt.timestamp(pd.Timestamp(t), time_zone="UTC") == "2026-03-10 01:00"
    aware = dt.datetime(2026, 3, 10, 1, 0, tzinfo=dt.timezone.utc)
    assert fmt.timestamp(aware, time_zone="Europe/Paris") == "2026-03-10 02:00"


def test_charts_have_text_alternatives_and_tooltips() -> None:
    chart = str(svg.bar_chart(["x", "y"], [3.0, 1.5], title="Two bars", unit="h"))
    assert chart.startswith("<svg") and 'role="img"' in chart
    assert 'aria-label="Two bars.' in chart and "<title>Two bars</title>" in chart
    assert "<title>x: 3 h</title>" in chart and "<title>y: 1.5 h</title>" in chart
    widths = [float(w) for w in re.findall(r'<rect x="270" y="\d+" width="([\d.]+)"', chart)]
    assert math.isclose(widths[0], 2 * widths[1])  # lengths proportional to the values
    assert "nothing to draw" in str(svg.bar_chart([], [], title="none"))


def test_text_is_escaped_in_charts() -> None:
    chart = str(svg.bar_chart(['<b>"x"</b>'], [1.0], title="a & b"))
    assert "<b>" not in chart and "&lt;b&gt;" in chart and "a &amp; b" in chart


def test_caterpillar_places_points_on_the_axis() -> None:
    chart = str(svg.caterpillar([("D1", 50.0, 40.0, 60.0)], title="c", lo=0, hi=100))
    # plot from x=170 to 640-30=610: 50 -> 390, 40 -> 346, 60 -> 434
    assert '<circle cx="390.0"' in chart
    assert 'x1="346.0" x2="434.0"' in chart
    assert "<title>D1: 50.0 (40.0–60.0)</title>" in chart


def test_nice_axis_maximum() -> None:
    assert svg.nice_max(118) == 200 and svg.nice_max(3.0) == 5 and svg.nice_max(0) == 1.0
    assert svg.nice_max(2.0) == 2 and svg.nice_max(0.07) == 0.1


def test_department_file_names_are_safe_and_distinct() -> None:
    names = {slug(d) for d in ("social_security", "Social Security", "公安局", "公安厅")}
    assert len(names) == 4
    assert all(re.fullmatch(r"[a-z0-9-]+", n) for n in names)
