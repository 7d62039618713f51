"""Charts as inline SVG, drawn in Python: the pages must work with no network and no script.

Every chart is an ``<svg role="img">`` with a ``<title>`` and ``aria-label`` (its text
alternative), and every mark carries a ``<title>`` tooltip with the exact figure, so nothing a
chart shows is only visible as a colour or a length. Functions take plain Python values (the
small aggregates the report reads) and return markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from visitonce.report.i18n import _

FONT = (
    "font-family:system-ui,-apple-system,'Segoe UI','Microsoft YaHei','PingFang SC',"
    "'Noto Sans CJK SC','Source Han Sans SC',sans-serif;font-size:12px"
)
# Funnel status colours by direction (colour-blind safe blue-orange diverging pairs, with the
# text label in every cell): better is blue, never the alarm red that only much_worse gets.
STATUS_COLOURS = {
    "much_better": "#3b7fc4",
    "better": "#a9cbe8",
    "within": "#eeeeea",
    "worse": "#f2b36b",
    "much_worse": "#c8423b",
    None: "#d0d0d0",
}
INK = "#222"
MUTED = "#888"
ACCENT = "#2f6db5"
FLAG = "#c8423b"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _open(width: float, height: float, title: str, desc: str = "") -> str:
    label = f"{title}. {desc}".strip() if desc else title
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_e(label)}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'style="{FONT};max-width:100%;height:auto"><title>{_e(title)}</title>'
        + (f"<desc>{_e(desc)}</desc>" if desc else "")
    )


def _text(x: float, y: float, text: object, *, anchor: str = "start", fill: str = INK,
          size: int | None = None, weight: str | None = None) -> str:  # fmt: skip
    style = f' font-size="{size}"' if size else ""
    style += f' font-weight="{weight}"' if weight else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"{style}>'
        f"{_e(text)}</text>"
    )


def _short(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5, 5 times a power of ten)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= value:
            return m * power
    return 10 * power  # pragma: no cover


def empty(title: str, message: str) -> Markup:
    """A small placeholder chart saying why there is nothing to draw."""
    return Markup(_open(420, 40, title, message) + _text(8, 24, message, fill=MUTED) + "</svg>")


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    unit: str = "",
    highlight: Sequence[bool] | None = None,
    reference: float | None = None,
    reference_label: str = "",
) -> Markup:
    """Horizontal bars, one per label; highlighted bars in the flag colour; an optional
    vertical reference line (e.g. ratio 1 or a threshold)."""
    if not labels:
        return empty(title, _("nothing to draw"))
    left, right, row = 270, 70, 20
    width = 720
    height = 28 + row * len(labels) + 20
    top = max([v for v in values if v is not None and math.isfinite(v)] or [0.0])
    vmax = nice_max(max(top, reference or 0.0))
    scale = (width - left - right) / vmax
    parts = [
        _open(
            width,
            height,
            title,
            _("%(n)s bars, axis 0 to %(max)s %(unit)s")
            % {"n": len(labels), "max": f"{vmax:g}", "unit": unit},
        )
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 24 + i * row
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" fill="{INK}">'
            f"{_e(_short(label, 32))}<title>{_e(label)}</title></text>"
        )
        if value is None or not math.isfinite(value):
            parts.append(_text(left + 4, y + 13, _("n/a"), fill=MUTED))
            continue
        w = max(value * scale, 0.5)
        colour = FLAG if highlight and highlight[i] else ACCENT
        parts.append(
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="{colour}">'
            f"<title>{_e(label)}: {_e(f'{value:.4g}')} {_e(unit)}</title></rect>"
        )
        parts.append(_text(left + w + 4, y + 13, f"{value:.3g}", fill=MUTED))
    if reference is not None:
        x = left + reference * scale
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="18" y2="{height - 16}" stroke="{INK}" '
            f'stroke-dasharray="4 3"><title>{_e(reference_label)}</title></line>'
        )
        parts.append(_text(x, 14, reference_label, anchor="middle", fill=MUTED))
    parts.append(_text(left, height - 4, f"0 — {vmax:g} {unit}", fill=MUTED))
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Cell:
    """One cell of a heat matrix: the text it shows, its fill and its tooltip."""

    text: str
    fill: str
    tooltip: str


def heat_matrix(
    rows: Sequence[str],
    cols: Sequence[str],
    cells: dict[tuple[str, str], Cell],
    *,
    title: str,
    desc: str = "",
    cell: int = 34,
) -> Markup:
    """A matrix of coloured cells (rows x columns) with the value written in each cell."""
    if not rows or not cols:
        return empty(title, _("nothing to draw"))
    left, top = 170, 110
    # room on the right for the last rotated column labels
    width, height = left + cell * len(cols) + 90, top + cell * len(rows) + 10
    parts = [_open(width, height, title, desc)]
    for j, c in enumerate(cols):
        x = left + j * cell + cell / 2
        parts.append(
            f'<text transform="translate({x:.1f},{top - 6}) rotate(-55)" fill="{INK}">'
            f"{_e(_short(c, 18))}<title>{_e(c)}</title></text>"
        )
    for i, r in enumerate(rows):
        y = top + i * cell
        parts.append(_text(left - 6, y + cell / 2 + 4, _short(r, 26), anchor="end"))
        for j, c in enumerate(cols):
            x = left + j * cell
            got = cells.get((r, c))
            if got is None:
                parts.append(
                    f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="#f4f4f4"/>'
                )
                continue
            parts.append(
                f'<g><rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{got.fill}"/><title>{_e(got.tooltip)}</title>'
                + _text(x + (cell - 2) / 2, y + cell / 2 + 3, got.text, anchor="middle", size=10)
                + "</g>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def caterpillar(
    rows: Sequence[tuple[str, float | None, float | None, float | None]],
    *,
    title: str,
    lo: float = 0.0,
    hi: float = 100.0,
    unit: str = "",
) -> Markup:
    """Point estimates with their intervals, one row each, in the order given (a caterpillar
    plot: overlapping intervals mean the ranking between them is not settled)."""
    if not rows:
        return empty(title, _("nothing to draw"))
    left, right, row = 170, 30, 20
    width = 640
    height = 30 + row * len(rows) + 24
    span = (hi - lo) or 1.0
    scale = (width - left - right) / span

    def x(v: float) -> float:
        return left + (min(max(v, lo), hi) - lo) * scale

    parts = [
        _open(
            width,
            height,
            title,
            _("%(n)s estimates with intervals, %(lo)s–%(hi)s")
            % {"n": len(rows), "lo": f"{lo:g}", "hi": f"{hi:g}"},
        )
    ]
    for tick in range(5):
        v = lo + span * tick / 4
        parts.append(
            f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="22" y2="{height - 20}" stroke="#e3e3e3"/>'
        )
        parts.append(_text(x(v), height - 6, f"{v:g}{unit}", anchor="middle", fill=MUTED))
    for i, (label, est, a, b) in enumerate(rows):
        y = 30 + i * row + row / 2
        parts.append(_text(left - 6, y + 4, _short(label, 24), anchor="end"))
        if est is None:
            parts.append(_text(left + 4, y + 4, _("not scored"), fill=MUTED))
            continue
        tip = f"{label}: {est:.1f}{unit}" + (
            f" ({a:.1f}–{b:.1f})" if a is not None and b is not None else ""
        )
        g = [f"<g><title>{_e(tip)}</title>"]
        if a is not None and b is not None:
            g.append(
                f'<line x1="{x(a):.1f}" x2="{x(b):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="{ACCENT}" stroke-width="3"/>'
            )
        g.append(f'<circle cx="{x(est):.1f}" cy="{y:.1f}" r="4.5" fill="{INK}"/></g>')
        parts.append("".join(g))
    parts.append("</svg>")
    return Markup("".join(parts))


def timeline(
    lanes: Sequence[str],
    marks: Sequence[tuple[str, float, float, float, str]],
    *,
    title: str,
    start_label: str,
    end_label: str,
) -> Markup:
    """One lane per label; marks are (lane, x0, x1, intensity 0-1, tooltip) with x in [0, 1]
    of the period shown; stronger marks are darker."""
    if not lanes:
        return empty(title, _("no alerts"))
    left, right, row = 220, 20, 22
    width = 760
    height = 24 + row * len(lanes) + 24
    plot = width - left - right
    parts = [
        _open(
            width,
            height,
            title,
            _("%(n)s alerts on %(lanes)s lanes") % {"n": len(marks), "lanes": len(lanes)},
        )
    ]
    index = {lane: i for i, lane in enumerate(lanes)}
    for lane, i in index.items():
        y = 20 + i * row
        parts.append(f'<rect x="{left}" y="{y}" width="{plot}" height="{row - 4}" fill="#f6f6f6"/>')
        parts.append(_text(left - 6, y + 13, _short(lane, 32), anchor="end"))
    for lane, x0, x1, strength, tip in marks:
        y = 20 + index[lane] * row
        w = max((x1 - x0) * plot, 4.0)
        opacity = 0.35 + 0.65 * min(max(strength, 0.0), 1.0)
        parts.append(
            f'<rect x="{left + x0 * plot:.1f}" y="{y}" width="{w:.1f}" height="{row - 4}" '
            f'fill="{FLAG}" fill-opacity="{opacity:.2f}"><title>{_e(tip)}</title></rect>'
        )
    parts.append(_text(left, height - 6, start_label, fill=MUTED))
    parts.append(_text(width - right, height - 6, end_label, anchor="end", fill=MUTED))
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    lo: float = 0.0,
    hi: float = 100.0,
) -> Markup:
    """A small line chart over ordered labels (e.g. the score over periods)."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if not points:
        return empty(title, _("no values"))
    width, height, left, top, bottom = 480, 160, 40, 14, 30
    n = max(len(labels) - 1, 1)
    plot_w, plot_h = width - left - 50, height - top - bottom
    span = (hi - lo) or 1.0

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + plot_w * i / n, top + plot_h * (1 - (v - lo) / span)

    parts = [_open(width, height, title, _("%(n)s points") % {"n": len(points)})]
    for v in (lo, (lo + hi) / 2, hi):
        _x, y = xy(0, v)
        parts.append(
            f'<line x1="{left}" x2="{width - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
        )
        parts.append(_text(left - 4, y + 4, f"{v:g}", anchor="end", fill=MUTED))
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in points))
    parts.append(f'<polyline points="{path}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
    for i, v in points:
        x, y = xy(i, v)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{INK}">'
            f"<title>{_e(labels[i])}: {v:.1f}</title></circle>"
        )
    for i, label in enumerate(labels):
        x, _y = xy(i, lo)
        parts.append(_text(x, height - 8, label, anchor="middle", fill=MUTED))
    parts.append("</svg>")
    return Markup("".join(parts))
