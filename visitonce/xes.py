"""IEEE 1849 XES event logs (plain or gzipped) as rows, streamed in bounded memory.

``iter_rows`` reads a log with ``xml.etree.ElementTree.iterparse`` and clears every trace once
its rows are out, so the parser never holds more than one case's elements, whatever the size
of the log. Rows use pm4py's vocabulary: event attributes under their own keys
(``concept:name``, ``org:resource``, ``time:timestamp``, ``lifecycle:transition``), trace
attributes prefixed ``case:`` (``case:concept:name``), every value a string.

Lifecycles: a ``start`` is paired with the next ``complete`` of the same activity (and
``concept:instance``, when the log has one) in the same case, first in first out, giving one
row with ``start_timestamp`` and ``time:timestamp``; a ``schedule`` is folded into that row as
``schedule_timestamp``. Completion-only logs give one row per event (start then derived from the
case's previous event by the mapping). A start never completed is a row still open (no
``time:timestamp``); a schedule never started or completed is a row with neither time, which
validation quarantines (``missing_required``). Every other transition (``suspend``,
``ate_abort``, …) is a row of its own. So ``rows + paired == events``, which
``XesStats`` records for the manifest's reconciliation. Each row carries ``source_row``, the
number of its event in the log (1-based, document order; a complete's for a paired row).

``to_parquet`` writes the rows of many logs as Parquet chunks of bounded size (all columns
strings), for ``io.read_raw`` to read with Spark.
"""

from __future__ import annotations

import gzip
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree as ET

ATTRIBUTE_TAGS = frozenset({"string", "date", "int", "float", "boolean", "id"})
CASE_PREFIX = "case:"
START_TIMESTAMP = "start_timestamp"
SCHEDULE_TIMESTAMP = "schedule_timestamp"
TIMESTAMP = "time:timestamp"
NAME = "concept:name"
INSTANCE = "concept:instance"
TRANSITION = "lifecycle:transition"
# The event's number in the log (1-based, document order): its position, which breaks ties
# between equal timestamps as the log's own order does (a paired row has its complete's).
POSITION = "source_row"


@dataclass
class XesStats:
    """What the parser saw: ``rows + paired == events``."""

    traces: int = 0
    events: int = 0
    rows: int = 0
    paired: int = 0  # start / schedule events folded into their complete event's row
    open_starts: int = 0  # starts never completed: rows still open
    max_case_events: int = 0  # the most events held at once (one case)
    transitions: dict[str, int] = field(default_factory=dict)

    def add(self, other: XesStats) -> None:
        for name in ("traces", "events", "rows", "paired", "open_starts"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.max_case_events = max(self.max_case_events, other.max_case_events)
        for k, v in other.transitions.items():
            self.transitions[k] = self.transitions.get(k, 0) + v


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attributes(elem: ET.Element) -> dict[str, str]:
    """Top-level attributes of a trace or event; nested attribute values are not kept."""
    out = {}
    for child in elem:
        if _local(child.tag) in ATTRIBUTE_TAGS and child.get("key") is not None:
            out[child.get("key")] = child.get("value")  # type: ignore[index]
    return out


def open_log(path: str | os.PathLike[str]) -> IO[bytes]:
    """A binary stream of a plain or gzipped XES file (gzip told by its magic bytes)."""
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    magic = raw.read(2)
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw


def _case_rows(
    case: dict[str, str], events: list[dict[str, str]], stats: XesStats
) -> list[dict[str, str | None]]:
    """One case's events as rows, start/schedule paired with their complete."""
    prefixed = {CASE_PREFIX + k: v for k, v in case.items()}
    pending_start: dict[tuple, deque[dict[str, str]]] = {}
    pending_schedule: dict[tuple, deque[dict[str, str]]] = {}
    rows: list[dict[str, str | None]] = []
    for ev in events:
        transition = (ev.get(TRANSITION) or "complete").strip().lower()
        stats.transitions[transition] = stats.transitions.get(transition, 0) + 1
        key = (ev.get(NAME), ev.get(INSTANCE))
        if transition == "start":
            pending_start.setdefault(key, deque()).append(ev)
            continue
        if transition == "schedule":
            pending_schedule.setdefault(key, deque()).append(ev)
            continue
        row: dict[str, str | None] = {**prefixed, **ev}
        if transition == "complete":
            starts = pending_start.get(key)
            if starts:
                row[START_TIMESTAMP] = starts.popleft().get(TIMESTAMP)
                stats.paired += 1
            schedules = pending_schedule.get(key)
            if schedules:
                row[SCHEDULE_TIMESTAMP] = schedules.popleft().get(TIMESTAMP)
                stats.paired += 1
        rows.append(row)
    # Starts never completed are steps still in progress; a schedule is folded into its start.
    for key, starts in pending_start.items():
        for start in starts:
            row = {**prefixed, **start, START_TIMESTAMP: start.get(TIMESTAMP), TIMESTAMP: None}
            schedules = pending_schedule.get(key)
            if schedules:
                row[SCHEDULE_TIMESTAMP] = schedules.popleft().get(TIMESTAMP)
                stats.paired += 1
            stats.open_starts += 1
            rows.append(row)
    for schedules in pending_schedule.values():
        for sched in schedules:
            rows.append(
                {**prefixed, **sched, SCHEDULE_TIMESTAMP: sched.get(TIMESTAMP), TIMESTAMP: None}
            )
    stats.rows += len(rows)
    return rows


def iter_rows(
    source: str | os.PathLike[str] | IO[bytes], *, stats: XesStats | None = None
) -> Iterator[dict[str, str | None]]:
    """Rows of an XES log (a path, or a binary stream), one case at a time.

    Each trace's elements are cleared, and detached from the log element, as soon as its rows
    are built: memory is bounded by the largest case, not the log.
    """
    stats = stats if stats is not None else XesStats()
    stream = open_log(source) if isinstance(source, (str, os.PathLike)) else source
    try:
        root: ET.Element | None = None
        depth = 0
        trace_depth = -1
        events: list[dict[str, str]] = []
        position = 0
        for kind, elem in ET.iterparse(stream, events=("start", "end")):
            tag = _local(elem.tag)
            if kind == "start":
                depth += 1
                if root is None:
                    root = elem
                elif tag == "trace" and trace_depth < 0:
                    trace_depth = depth
                    events = []
                continue
            depth -= 1
            if trace_depth < 0:
                continue
            if tag == "event" and depth == trace_depth:  # an event directly in the trace
                position += 1
                events.append({**_attributes(elem), POSITION: str(position)})
                elem.clear()
                stats.events += 1
                stats.max_case_events = max(stats.max_case_events, len(events))
            elif tag == "trace" and depth == trace_depth - 1:
                case = _attributes(elem)
                stats.traces += 1
                rows = _case_rows(case, events, stats)
                events = []
                trace_depth = -1
                elem.clear()
                if root is not None:
                    root.clear()  # detach the finished trace: nothing of it stays
                yield from rows
    finally:
        if isinstance(source, (str, os.PathLike)):
            stream.close()


def to_parquet(
    paths: list[str], out_dir: str | os.PathLike[str], *, chunk_rows: int = 50_000
) -> XesStats:
    """Write the rows of XES logs under ``out_dir`` as Parquet chunks (string columns) with a
    ``source_file`` column naming the log; returns the parser's counts.

    At most ``chunk_rows`` rows are held before a chunk is written, so memory stays bounded.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    total = XesStats()
    n_chunk = 0

    def flush(rows: list[dict[str, Any]]) -> None:
        nonlocal n_chunk
        names = sorted({k for r in rows for k in r})
        table = pa.table({n: pa.array([r.get(n) for r in rows], pa.string()) for n in names})
        pq.write_table(table, out / f"part-{n_chunk:05d}.parquet")
        n_chunk += 1

    for uri in paths:
        local = _local_path(uri)
        stats = XesStats()
        buffer: list[dict[str, Any]] = []
        for row in iter_rows(local, stats=stats):
            row["source_file"] = uri
            buffer.append(row)
            if len(buffer) >= chunk_rows:
                flush(buffer)
                buffer = []
        if buffer:
            flush(buffer)
        total.add(stats)
    return total


def _local_path(uri: str) -> str:
    """A local path from a ``file:`` URI or a plain path; other schemes are not supported."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return unquote(parsed.path) if parsed.scheme else uri
    raise ValueError(
        f"{uri}: XES logs are parsed on the driver and must be local files; "
        "copy the log to the driver or convert it to Parquet first"
    )
