"""The XES parser: pm4py's vocabulary, lifecycle pairing, gzip, and streaming in bounded memory."""

from __future__ import annotations

import gzip
import io
import tracemalloc
from pathlib import Path

import pytest

from visitonce import xes

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "eventlogs"

SMALL = """<?xml version="1.0" encoding="UTF-8" ?>
<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <global scope="event"><string key="concept:name" value="UNKNOWN"/></global>
  <string key="concept:name" value="the log"/>
  <trace>
    <string key="concept:name" value="A1"/>
    <string key="channel" value="Desk"/>
    <event>
      <string key="concept:name" value="accept"/>
      <string key="org:resource" value="r1"/>
      <string key="lifecycle:transition" value="start"/>
      <date key="time:timestamp" value="2026-03-02T09:00:00+08:00"/>
    </event>
    <event>
      <string key="concept:name" value="accept"/>
      <string key="org:resource" value="r1"/>
      <string key="lifecycle:transition" value="complete"/>
      <date key="time:timestamp" value="2026-03-02T09:20:00+08:00"/>
      <list key="tags"><values><string key="x" value="nested"/></values></list>
    </event>
    <event>
      <string key="concept:name" value="review"/>
      <string key="lifecycle:transition" value="schedule"/>
      <date key="time:timestamp" value="2026-03-02T09:30:00+08:00"/>
    </event>
    <event>
      <string key="concept:name" value="review"/>
      <string key="lifecycle:transition" value="start"/>
      <date key="time:timestamp" value="2026-03-02T10:00:00+08:00"/>
    </event>
  </trace>
  <trace>
    <string key="concept:name" value="A2"/>
    <event>
      <string key="concept:name" value="accept"/>
      <date key="time:timestamp" value="2026-03-03T09:00:00+08:00"/>
      <int key="cost" value="12"/>
    </event>
  </trace>
</log>
"""


def test_rows_use_pm4py_names_pair_lifecycles_and_keep_case_attributes() -> None:
    stats = xes.XesStats()
    rows = list(xes.iter_rows(io.BytesIO(SMALL.encode()), stats=stats))
    assert rows == [
        {
            "case:concept:name": "A1",
            "case:channel": "Desk",
            "concept:name": "accept",
            "org:resource": "r1",
            "lifecycle:transition": "complete",
            "time:timestamp": "2026-03-02T09:20:00+08:00",
            "start_timestamp": "2026-03-02T09:00:00+08:00",
            "source_row": "2",  # the complete's number in the log
        },
        # started, never completed: an open step, its schedule folded in
        {
            "case:concept:name": "A1",
            "case:channel": "Desk",
            "concept:name": "review",
            "lifecycle:transition": "start",
            "time:timestamp": None,
            "start_timestamp": "2026-03-02T10:00:00+08:00",
            "schedule_timestamp": "2026-03-02T09:30:00+08:00",
            "source_row": "4",
        },
        # completion-only: no start_timestamp (derived by the mapping)
        {
            "case:concept:name": "A2",
            "concept:name": "accept",
            "time:timestamp": "2026-03-03T09:00:00+08:00",
            "cost": "12",
            "source_row": "5",  # numbered across traces, in document order
        },
    ]
    assert (stats.traces, stats.events, stats.rows, stats.paired) == (2, 5, 3, 2)
    assert stats.rows + stats.paired == stats.events
    assert stats.open_starts == 1


def _synthetic_log(n_cases: int, events_per_case: int = 5) -> bytes:
    parts = ['<?xml version="1.0"?>\n<log xmlns="http://www.xes-standard.org/">\n']
    for c in range(n_cases):
        parts.append(f'<trace><string key="concept:name" value="case-{c}"/>')
        parts.append(f'<string key="note" value="{"x" * 200}"/>')
        for e in range(events_per_case):
            parts.append(
                f'<event><string key="concept:name" value="step{e}"/>'
                f'<string key="org:resource" value="r{e}"/>'
                f'<date key="time:timestamp" value="2026-03-02T09:{e:02d}:00+00:00"/></event>'
            )
        parts.append("</trace>\n")
    parts.append("</log>\n")
    return "".join(parts).encode()


class _CountingReader(io.BytesIO):
    """A stream that records how far the parser has read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.max_pos = 0

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        out = super().read(n)
        self.max_pos = max(self.max_pos, self.tell())
        return out


def test_the_first_case_comes_out_before_the_log_is_read() -> None:
    data = _synthetic_log(3_000)
    stream = _CountingReader(data)
    rows = xes.iter_rows(stream)
    first = next(rows)
    assert first["case:concept:name"] == "case-0"
    # iterparse reads in 64 KiB blocks: a stream, not a file slurped into memory
    assert stream.max_pos < len(data) / 10
    assert sum(1 for _ in rows) == 3_000 * 5 - 1


def test_memory_is_bounded_by_the_largest_case_not_the_log() -> None:
    stats = xes.XesStats()

    def peak(n_cases: int) -> int:
        data = _synthetic_log(n_cases)
        tracemalloc.start()
        for _ in xes.iter_rows(io.BytesIO(data), stats=stats):
            pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(200), peak(4_000)  # 20 times the cases
    assert large < 2 * small, (small, large)
    assert stats.max_case_events == 5  # never more than one case's events held


def test_gzipped_and_plain_logs_give_the_same_rows(tmp_path: Path) -> None:
    plain = tmp_path / "log.xes"
    plain.write_text(SMALL, "utf-8")
    packed = tmp_path / "log.xes.gz"
    packed.write_bytes(gzip.compress(SMALL.encode()))
    assert list(xes.iter_rows(plain)) == list(xes.iter_rows(packed))


def test_to_parquet_writes_bounded_chunks_with_the_source_file(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    log = tmp_path / "big.xes"
    log.write_bytes(_synthetic_log(100))
    stats = xes.to_parquet([str(log)], tmp_path / "out", chunk_rows=120)
    parts = sorted((tmp_path / "out").glob("*.parquet"))
    assert len(parts) == 5 and stats.rows == 500
    table = pq.read_table(parts[0])
    assert table.num_rows == 120
    assert set(table.column("source_file").to_pylist()) == {str(log)}


@pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data not found at {DATA}")
def test_receipt_xes_has_the_published_cases_and_events() -> None:
    stats = xes.XesStats()
    cases = {r["case:concept:name"] for r in xes.iter_rows(DATA / "08_receipt.xes.gz", stats=stats)}
    assert (len(cases), stats.events, stats.rows) == (1_434, 8_577, 8_577)
