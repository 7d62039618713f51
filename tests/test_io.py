"""Reading raw inputs: drifting headers, byte-order marks, compression, empty and hidden files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from visitonce import columns as C
from visitonce import io
from visitonce.mapping import SourceMapping

CANONICAL = SourceMapping(name="canonical")


def _rows(raw) -> list[dict]:
    skip = (C.SOURCE_FILE, C.SOURCE_ROW, io.CORRUPT, io.FIELDS_PRESENT)
    cols = [c for c in raw.df.columns if c not in skip]
    return sorted((r.asDict() for r in raw.df.select(*cols).collect()), key=lambda r: r["event_id"])


def test_files_with_drifting_headers_are_read_by_name(spark, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("event_id,step,channel\nE1,accept,counter\n")
    (tmp_path / "b.csv").write_text("channel,event_id,age_band,step\nonline,E2,75+,review\n")
    raw = io.read_raw(spark, str(tmp_path), mapping=CANONICAL)
    assert _rows(raw) == [
        {"event_id": "E1", "step": "accept", "channel": "counter", "age_band": None},
        {"event_id": "E2", "step": "review", "channel": "online", "age_band": "75+"},
    ]


def test_byte_order_mark_and_gzip(spark, tmp_path: Path) -> None:
    (tmp_path / "excel.csv").write_bytes("\ufeffevent_id,step\nE1,accept\n".encode("utf-8"))
    with gzip.open(tmp_path / "zipped.csv.gz", "wt", encoding="utf-8") as f:
        f.write("event_id,step\nE2,review\nE3,approve\n")
    raw = io.read_raw(spark, str(tmp_path), mapping=CANONICAL)
    assert [r["event_id"] for r in _rows(raw)] == ["E1", "E2", "E3"]
    assert len(raw.files) == 2


def _positions(raw) -> dict[str, list[tuple[int, str]]]:
    """Per file name: (source_row, event_id) in source_row order."""
    out: dict[str, list[tuple[int, str]]] = {}
    for r in raw.df.select(C.SOURCE_FILE, C.SOURCE_ROW, "event_id").collect():
        out.setdefault(Path(r[0]).name, []).append((r[1], r[2]))
    return {k: sorted(v) for k, v in out.items()}


@pytest.fixture()
def small_splits(spark):
    """Files read as many small splits, spread over tasks, as a large file on a cluster is."""
    keys = ("spark.sql.files.maxPartitionBytes", "spark.sql.files.openCostInBytes")
    old = {k: spark.conf.get(k) for k in keys}
    spark.conf.set(keys[0], "512")
    spark.conf.set(keys[1], "0")
    yield
    for k, v in old.items():
        spark.conf.set(k, v)


def test_source_row_is_the_record_number_in_its_file(spark, tmp_path: Path, small_splits) -> None:
    n = 400  # about 7 KB: 14 splits of 512 bytes
    body = "".join(f"E{i:04d},step{i % 7},2026-03-02T09:00:00Z\n" for i in range(1, n + 1))
    (tmp_path / "day1.csv").write_text("event_id,step,started_at\n" + body)
    (tmp_path / "again.csv").write_text("event_id,step,started_at\n" + body)  # same export
    assert spark.read.csv(str(tmp_path)).rdd.getNumPartitions() > 4  # the scan is split
    raw = io.read_raw(spark, str(tmp_path), mapping=CANONICAL)
    expected = [(i, f"E{i:04d}") for i in range(1, n + 1)]
    assert _positions(raw) == {"day1.csv": expected, "again.csv": expected}


def test_source_row_counts_a_multiline_record_once_and_numbers_json_lines(
    spark, tmp_path: Path
) -> None:
    (tmp_path / "a.csv").write_text('event_id,note\nE1,"two\nlines"\nE2,x\n\nE3,y\n')
    multi = SourceMapping(name="m", multiline=True)
    assert _positions(io.read_raw(spark, str(tmp_path / "a.csv"), mapping=multi)) == {
        "a.csv": [(1, "E1"), (2, "E2"), (3, "E3")]
    }
    (tmp_path / "b.jsonl").write_text('{"event_id": "J1"}\n{"event_id": "J2"}\nnot json\n')
    got = _positions(io.read_raw(spark, str(tmp_path / "b.jsonl"), mapping=CANONICAL))
    assert got == {"b.jsonl": [(1, "J1"), (2, "J2"), (3, None)]}


def test_empty_hidden_and_underscore_files_are_skipped(spark, tmp_path: Path) -> None:
    (tmp_path / "day1.csv").write_text("event_id,step\nE1,accept\n")
    (tmp_path / "day2.csv").write_text("")
    (tmp_path / ".day3.csv.crc").write_text("junk")
    (tmp_path / "_SUCCESS").write_text("")
    sub = tmp_path / "nested"
    sub.mkdir()
    (sub / "day4.csv").write_text("event_id,step\nE4,deliver\n")
    raw = io.read_raw(spark, str(tmp_path), mapping=CANONICAL)
    assert [Path(f).name for f in raw.files] == ["day1.csv", "day2.csv", "day4.csv"]
    assert [r["event_id"] for r in _rows(raw)] == ["E1", "E4"]


def test_glob(spark, tmp_path: Path) -> None:
    for d in ("2026-03-01", "2026-03-02", "2026-04-01"):
        (tmp_path / f"events-{d}.csv").write_text(f"event_id\n{d}\n")
    raw = io.read_raw(spark, str(tmp_path / "events-2026-03-*.csv"), mapping=CANONICAL)
    assert [r["event_id"] for r in _rows(raw)] == ["2026-03-01", "2026-03-02"]


def test_nothing_to_read(spark, tmp_path: Path) -> None:
    with pytest.raises(io.InputError, match="no input files"):
        io.read_raw(spark, str(tmp_path / "*.csv"), mapping=CANONICAL)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(io.InputError, match="is empty"):
        io.read_raw(spark, str(tmp_path), mapping=CANONICAL)


def test_mixed_extensions_need_a_declared_format(tmp_path: Path) -> None:
    with pytest.raises(io.InputError, match="set 'format:'"):
        io.detect_format(["a.csv", "b.parquet"], "auto")
    assert io.detect_format(["a.csv.gz", "b.csv"], "auto") == "csv"
    assert io.detect_format(["a.dat"], "csv") == "csv"


def _catalog_rows(spark, names: list[str], boom: str | None = None):
    from pyspark.sql import functions as F

    df = spark.createDataFrame(
        [(n, n, "D", 1, 1, True) for n in names],
        "service_item string, item_name string, department string, "
        "complexity int, time_limit_days int, online_capable boolean",
    )
    if boom:  # fails inside a task, after other rows may have been written
        df = df.withColumn(
            "item_name",
            F.when(
                F.col("service_item") == boom, F.raise_error(F.lit("killed mid-write"))
            ).otherwise(F.col("item_name")),
        )
    return df


def test_a_failed_write_leaves_the_previous_table_readable(spark, tmp_path: Path) -> None:
    from visitonce import schemas

    contract = schemas.load("catalog")
    uri = str(tmp_path / "catalog")
    io.write_table(_catalog_rows(spark, ["A", "B"]), uri, contract)
    with pytest.raises(Exception, match="killed mid-write"):
        io.write_table(
            _catalog_rows(spark, [f"N{i}" for i in range(50)], boom="N40"), uri, contract
        )
    assert sorted(r[0] for r in spark.read.parquet(uri).select("service_item").collect()) == [
        "A",
        "B",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["catalog"]  # no staging left behind
    io.write_table(_catalog_rows(spark, ["C"]), uri, contract)  # the rerun completes
    assert [r[0] for r in spark.read.parquet(uri).select("service_item").collect()] == ["C"]


def test_a_failed_partition_overwrite_keeps_the_old_partitions(spark, tmp_path: Path) -> None:
    from pyspark.sql import functions as F

    from visitonce import schemas

    contract = schemas.load("quarantine")
    uri = str(tmp_path / "quarantine")

    def rows(batch: str, n: int, boom: int | None = None):
        df = spark.range(n).select(
            F.lit("r").alias("reason"),
            F.array(F.lit("r")).alias("reasons"),
            F.col("id").cast("string").alias("detail"),
            F.lit("s").alias("source"),
            F.lit("f").alias("source_file"),
            F.lit("{}").alias("values"),
            F.lit("events").alias("table"),
            F.lit(batch).alias("batch"),
        )
        if boom is not None:
            df = df.withColumn(
                "detail",
                F.when(
                    F.col("detail") == str(boom), F.raise_error(F.lit("killed mid-write"))
                ).otherwise(F.col("detail")),
            )
        return df

    io.write_table(rows("b1", 3), uri, contract)
    with pytest.raises(Exception, match="killed mid-write"):
        io.write_table(rows("b1", 100, boom=70), uri, contract)
    assert spark.read.parquet(uri).count() == 3
    io.write_table(rows("b2", 5), uri, contract)  # another batch is added, b1 kept
    assert spark.read.parquet(uri).groupBy("batch").count().orderBy("batch").collect() == [
        ("b1", 3),
        ("b2", 5),
    ]


def _quarantine_rows(spark, batch: str, n: int):
    from pyspark.sql import functions as F

    return spark.range(n).select(
        F.lit("r").alias("reason"),
        F.array(F.lit("r")).alias("reasons"),
        F.col("id").cast("string").alias("detail"),
        F.lit("s").alias("source"),
        F.lit("f").alias("source_file"),
        F.lit("{}").alias("values"),
        F.lit("events").alias("table"),
        F.lit(batch).alias("batch"),
    )


def _rows_per_file(folder: Path) -> list[int]:
    import pyarrow.parquet as pq

    return sorted(pq.ParquetFile(f).metadata.num_rows for f in folder.glob("*.parquet"))


def test_files_are_cut_at_the_configured_target_size(spark, tmp_path: Path) -> None:
    """Issue 22: output.target_file_mb sets the rows a file holds (from the contract's column
    count); a partition above it is several files, one below it is one file."""
    from visitonce import schemas

    contract = schemas.load("quarantine")
    per_file = io.rows_per_file(contract, target_file_mb=1)
    assert per_file == 2**20 // (io.BYTES_PER_VALUE * len(contract.columns))
    assert io.rows_per_file(contract, target_file_mb=128) == 128 * per_file
    n = 2 * per_file + 1_000
    io.write_table(
        _quarantine_rows(spark, "b1", n), str(tmp_path / "q"), contract, target_file_mb=1
    )
    counts = _rows_per_file(tmp_path / "q" / "table=events" / "batch=b1")
    assert sum(counts) == n
    assert len(counts) == 3 and max(counts) <= per_file
    io.write_table(_quarantine_rows(spark, "b1", n), str(tmp_path / "q"), contract)  # 128 MiB
    assert _rows_per_file(tmp_path / "q" / "table=events" / "batch=b1") == [n]


def test_an_unpartitioned_table_is_one_file_until_it_outgrows_the_target(
    spark, tmp_path: Path
) -> None:
    """Issue 22: a small table spread over many tasks is written as one file, a large one as
    files of at most the target's rows."""
    from visitonce import schemas

    contract = schemas.load("catalog")
    small = _catalog_rows(spark, [f"S{i}" for i in range(46)]).repartition(16)
    io.write_table(small, str(tmp_path / "catalog"), contract)
    assert _rows_per_file(tmp_path / "catalog") == [46]
    per_file = io.rows_per_file(contract, target_file_mb=1)
    n = 2 * per_file + 1_000
    big = spark.range(n).selectExpr(
        "concat('S', id) AS service_item", "concat('item ', id) AS item_name",
        "'D' AS department", "1 AS complexity", "1 AS time_limit_days", "true AS online_capable",
    ).repartition(16)  # fmt: skip
    io.write_table(big, str(tmp_path / "big"), contract, target_file_mb=1)
    counts = _rows_per_file(tmp_path / "big")
    assert sum(counts) == n and len(counts) >= 3 and max(counts) <= per_file


def test_the_next_write_repairs_what_a_killed_swap_left(spark, tmp_path: Path) -> None:
    """Killed between the swap's two renames: the table is aside as ``.__old-*`` and a partial
    staging copy lies beside it. The next write puts the old table back before replacing it."""
    from visitonce import schemas

    contract = schemas.load("catalog")
    uri = str(tmp_path / "catalog")
    io.write_table(_catalog_rows(spark, ["A", "B"]), uri, contract)
    (tmp_path / "catalog").rename(tmp_path / "catalog.__old-dead")
    (tmp_path / "catalog.__staging-dead").mkdir()
    (tmp_path / "catalog.__staging-dead" / "part-0.parquet").write_bytes(b"PAR1 partial")
    io._recover(spark, uri)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog"]
    assert sorted(r[0] for r in spark.read.parquet(uri).select("service_item").collect()) == [
        "A",
        "B",
    ]
    (tmp_path / "catalog").rename(tmp_path / "catalog.__old-dead")
    io.write_table(_catalog_rows(spark, ["C"]), uri, contract)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog"]
    assert [r[0] for r in spark.read.parquet(uri).select("service_item").collect()] == ["C"]


def test_local_files_are_checksummed_and_get_their_permissions_without_a_process(
    spark, tmp_path: Path
) -> None:
    """Local sessions write ``file:`` through FastLocalFileSystem (java/): Hadoop's checksummed
    local file system whose permissions are set in-process, not by a chmod process per file.
    The written table still has its .crc side files, and the permissions Hadoop asks for."""
    import os
    import stat

    from visitonce.spark import LOCAL_FS_CLASS

    fs, _ = io._hadoop_path(spark, tmp_path.as_uri())
    assert fs.getClass().getName() == LOCAL_FS_CLASS
    df = spark.createDataFrame([(1, "2024-01-02"), (2, "2024-01-03")], "n int, d string")
    df.write.partitionBy("d").parquet(str(tmp_path / "t"))
    data = sorted((tmp_path / "t").glob("d=*/*.parquet"))
    assert len(data) == 2
    for f in data:
        assert (f.parent / f".{f.name}.crc").exists()
        assert stat.S_IMODE(f.stat().st_mode) == 0o644 & ~_umask()
    assert stat.S_IMODE(data[0].parent.stat().st_mode) == 0o777 & ~_umask()

    jvm = spark.sparkContext._jvm
    target = jvm.org.apache.hadoop.fs.Path(str(data[0]))
    for mode in (0o640, 0o600, 0o1755):  # the last (sticky bit) goes Hadoop's own way
        fs.setPermission(target, jvm.org.apache.hadoop.fs.permission.FsPermission(mode))
        assert stat.S_IMODE(os.stat(data[0]).st_mode) == mode
    assert spark.read.parquet(str(tmp_path / "t")).count() == 2


def _umask() -> int:
    import os

    current = os.umask(0)
    os.umask(current)
    return current
