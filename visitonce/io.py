"""All reads and writes. Paths are URIs (``file://``, ``s3a://``, ``hdfs://``) or local paths.

File listing and small text files go through Hadoop's FileSystem API in the JVM, so the same
code works for local disks and object stores on a cluster.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visitonce import columns as C
from visitonce.config import OutputConfig
from visitonce.mapping import SourceMapping
from visitonce.schemas import Contract, check_schema, conform

CORRUPT = "_corrupt_record"
FIELDS_PRESENT = "_fields_present"
_EXT_FORMAT = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "jsonl",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".xes": "xes",
    ".gz": None,
}


class InputError(ValueError):
    """An input path or file cannot be used; the message says what to do."""


def _hadoop_path(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return fs, path


def list_files(spark: SparkSession, uri: str) -> list[str]:
    """Data files at a file, folder (recursively) or glob, sorted; hidden and _ files skipped."""
    fs, path = _hadoop_path(spark, uri)
    statuses = fs.globStatus(path) or []
    files: list[str] = []
    stack = list(statuses)
    while stack:
        st = stack.pop()
        name = st.getPath().getName()
        if name.startswith((".", "_")):
            continue
        if st.isDirectory():
            stack.extend(fs.listStatus(st.getPath()))
        else:
            files.append(st.getPath().toString())
    return sorted(files)


def folder_uri(spark: SparkSession, uri: str) -> str | None:
    """``uri`` spelled as ``list_files`` spells the paths under it, when it names one folder;
    None for a file, or a glob matching several paths or none."""
    fs, path = _hadoop_path(spark, uri)
    statuses = fs.globStatus(path) or []
    if len(statuses) != 1 or not statuses[0].isDirectory():
        return None
    return str(statuses[0].getPath().toString())


# A Hive-style day folder of a landing area: the day its files landed.
DAY_FOLDER = re.compile(r"(?:event_)?date=(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True)
class LandingSelection:
    """The files of a landing folder that a run reads, and what its day folders were."""

    files: list[str]
    layout: str  # "daily" (files under date=YYYY-MM-DD/ folders) or "flat"
    folders_read: int = 0  # day folders (holding data files) selected
    folders_skipped: int = 0  # day folders outside the dates

    def manifest(self, *, late_arrival_days: int) -> dict[str, Any]:
        """The manifest's ``landing`` section."""
        if self.layout != "daily":
            return {"layout": self.layout}
        return {
            "layout": self.layout,
            "folders_read": self.folders_read,
            "folders_skipped": self.folders_skipped,
            "late_arrival_days": late_arrival_days,
        }


def _day_folder(name: str) -> dt.date | None:
    match = DAY_FOLDER.fullmatch(name)
    if match is None:
        return None
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:  # date=2026-02-30: not a day, so not a day folder (its files are read)
        return None


def select_landing_days(
    files: list[str], *, root: str | None, first: dt.date | None, last: dt.date | None
) -> LandingSelection:
    """The files of the landing folder ``root`` that sit in day folders dated ``first`` to
    ``last`` (inclusive; None: unbounded), when its files sit in ``date=YYYY-MM-DD/`` (or
    ``event_date=``) folders directly under it.

    Every file that is in no day folder (a stray file at the top, another folder) is kept:
    nothing is skipped that the dates cannot speak for. Without day folders (or with no
    ``root``: a file or a glob) every file is kept, as a flat layout.
    """
    prefix = root.rstrip("/") + "/" if root else None
    folders: dict[str, bool] = {}  # day folder -> whether its date is selected
    kept: list[str] = []
    for f in files:
        top = f[len(prefix) :].split("/", 1) if prefix and f.startswith(prefix) else []
        day = _day_folder(top[0]) if len(top) == 2 else None  # a folder, not a file at the top
        selected = day is None or (
            (first is None or day >= first) and (last is None or day <= last)
        )
        if day is not None:
            folders[top[0]] = selected
        if selected:
            kept.append(f)
    if not folders:
        return LandingSelection(files=list(files), layout="flat")
    n_read = sum(folders.values())
    return LandingSelection(
        files=kept, layout="daily", folders_read=n_read, folders_skipped=len(folders) - n_read
    )


def exists(spark: SparkSession, uri: str) -> bool:
    fs, path = _hadoop_path(spark, uri)
    return bool(fs.exists(path))


def has_data(spark: SparkSession, uri: str) -> bool:
    """Whether a table folder holds at least one data file (a partitioned table written from
    no rows is an empty folder, which Spark cannot read)."""
    return exists(spark, uri) and bool(list_files(spark, uri))


def write_text(spark: SparkSession, uri: str, text: str) -> None:
    """Write a small text file (manifest), replacing it atomically where the store allows."""
    fs, path = _hadoop_path(spark, uri)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    tmp = jvm.org.apache.hadoop.fs.Path(uri + ".tmp")
    out = fs.create(tmp, True)
    try:
        out.write(bytearray(text.encode("utf-8")))
    finally:
        out.close()
    if fs.exists(path):
        fs.delete(path, False)
    fs.rename(tmp, path)


def read_text(spark: SparkSession, uri: str) -> str:
    return "\n".join(spark.sparkContext.textFile(uri, 1).collect())


def join_uri(root: str, *parts: str) -> str:
    return posixpath.join(root.rstrip("/"), *parts)


def detect_format(files: list[str], declared: str) -> str:
    """The file format: declared by the mapping, else from the extensions (which must agree)."""
    if declared != "auto":
        return declared
    formats = set()
    for f in files:
        stem = f[:-3] if f.endswith(".gz") else f
        ext = posixpath.splitext(stem)[1].lower()
        formats.add(_EXT_FORMAT.get(ext))
    if len(formats) != 1 or None in formats:
        raise InputError(
            "cannot tell the file format from the extensions "
            f"({', '.join(sorted({posixpath.splitext(f)[1] or '(none)' for f in files}))}): "
            "use .csv/.jsonl/.parquet files or set 'format:' in the source mapping"
        )
    return formats.pop()  # type: ignore[return-value]


@dataclass(frozen=True)
class RawInput:
    """Raw rows as strings, with the source file, the row's position in it and a malformed-row
    flag."""

    # source columns (strings) + source_file + source_row (long) + _corrupt_record (string or
    # null) + _fields_present
    df: DataFrame
    files: list[str]
    format: str


def read_raw(
    spark: SparkSession, uri: str, *, mapping: SourceMapping, files: list[str] | None = None
) -> RawInput:
    """Read every row of a file / folder / glob (or only ``files`` under it) as strings,
    keeping malformed rows.

    Every value stays a string here: typing happens in validation, where a value that does not
    parse is counted and quarantined instead of failing the job.
    """
    # an empty selection is no input, never everything
    files = list_files(spark, uri) if files is None else files
    if not files:
        raise InputError(f"no input files at {uri}: check the path (a file, folder or glob)")
    fmt = detect_format(files, mapping.format)
    if fmt == "csv":
        reader = (
            spark.read.option("header", True)
            .option("encoding", mapping.encoding)
            .option("sep", mapping.delimiter)
            .option("multiLine", mapping.multiline)
            .option("mode", "PERMISSIVE")
            .option("enforceSchema", True)
        )
        # Files of one source can drift (a column added one month): read each header, then
        # each group of files with the same header, and union by name, so no value lands in
        # another column's place.
        groups: dict[tuple[str, ...], list[str]] = {}
        for f in files:
            header = csv_header(spark, f, mapping=mapping)
            if header:  # an empty file (nothing exported that day) has no rows to read
                groups.setdefault(header, []).append(f)
        if not groups:
            raise InputError(f"every input file at {uri} is empty: nothing to ingest")
        frames = []
        for header, group in groups.items():
            if len(set(header)) != len(header):
                raise InputError(f"{group[0]}: the header repeats a column name: {list(header)}")
            schema = T.StructType(
                [T.StructField(h, T.StringType()) for h in header]
                + [T.StructField(CORRUPT, T.StringType())]
            )
            frame = reader.schema(schema).option("columnNameOfCorruptRecord", CORRUPT).csv(group)
            frames.append(
                _with_scan_order(frame.withColumn(C.SOURCE_FILE, F.col("_metadata.file_path")))
            )
        df = frames[0]
        for other in frames[1:]:
            df = df.unionByName(other, allowMissingColumns=True)
    elif fmt == "jsonl":
        reader = (
            spark.read.option("primitivesAsString", True)
            .option("encoding", mapping.encoding)
            .option("multiLine", mapping.multiline)  # a file holding one JSON array (Open311)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT)
        )
        df = reader.json(files)
        if CORRUPT not in df.columns:
            df = df.withColumn(CORRUPT, F.lit(None).cast("string"))
        elif df.columns == [CORRUPT]:
            # Not one line parsed (another encoding, not JSON at all). Spark refuses a query
            # that reads the corrupt-record column alone, so read a placeholder field beside it
            # (never present; the count of parsed fields keeps it in the query); every row is
            # then quarantined as malformed_row.
            df = reader.schema(
                T.StructType(
                    [
                        T.StructField(NO_FIELD, T.StringType()),
                        T.StructField(CORRUPT, T.StringType()),
                    ]
                )
            ).json(files)
        df = df.select(*[_as_string(df, c) for c in df.columns])
    elif fmt == "xes":
        # Parsed as a stream on the driver (bounded memory) into Parquet chunks that Spark reads;
        # rows keep the log's path as source_file. See visitonce/xes.py.
        df = spark.read.option("mergeSchema", True).parquet(_stage_xes(files))
        df = df.select(*[_as_string(df, c) for c in df.columns])
        df = df.withColumn(CORRUPT, F.lit(None).cast("string"))
    elif fmt == "parquet":
        df = spark.read.parquet(*files)
        df = df.select(*[_as_string(df, c) for c in df.columns])
        df = df.withColumn(CORRUPT, F.lit(None).cast("string"))
    else:  # pragma: no cover - detect_format guards this
        raise InputError(f"unsupported format {fmt}")
    if C.SOURCE_FILE not in df.columns:
        df = df.withColumn(C.SOURCE_FILE, F.col("_metadata.file_path"))
    return _finish_raw(df, files, fmt)


def _finish_raw(df: DataFrame, files: list[str], fmt: str) -> RawInput:
    """Add ``source_row`` and the count of parsed fields to rows read with their file."""
    if C.SOURCE_ROW in df.columns:  # XES: the event's number in the log, from the parser
        df = df.withColumn(C.SOURCE_ROW, F.col(C.SOURCE_ROW).cast("long"))
    else:
        if _SPLIT not in df.columns:
            df = _with_scan_order(df)
        df = _with_source_row(df)
    # How many fields of the row parsed. Carried to the end of ingest, it also keeps every file's
    # real columns in the query: Spark refuses a raw CSV/JSON query that reads only the
    # corrupt-record column, which happens when a file shares no column with the mapping.
    data = [c for c in df.columns if c not in (CORRUPT, C.SOURCE_FILE, C.SOURCE_ROW)]
    present = sum((F.col(f"`{c}`").isNotNull().cast("int") for c in data), F.lit(0))
    df = df.withColumn(FIELDS_PRESENT, present)
    return RawInput(df=df, files=files, format=fmt)


_SPLIT, _SCAN_ID = "_split_start", "_scan_id"
NO_FIELD = "_no_field_parsed"  # placeholder column of a JSON file of which no line parses


def _with_scan_order(df: DataFrame) -> DataFrame:
    """Mark each row with its file split's first byte and an ID increasing within its task.

    Spark reads a file as splits (byte ranges; a compressed or multi-line file is one split), a
    split in one task, its rows in file order. So (split start, ID) orders a file's rows as the
    file does, however the splits are spread over tasks. Must be taken straight off the scan.
    """
    return df.withColumn(_SPLIT, F.col("_metadata.file_block_start")).withColumn(
        _SCAN_ID, F.monotonically_increasing_id()
    )


def _with_source_row(df: DataFrame) -> DataFrame:
    """Add ``source_row``: the row's record number in its file (1-based), from the scan order.

    ``monotonically_increasing_id`` alone is no position (it jumps between tasks, and tasks
    do not follow the file); numbered in (split start, ID) order within the file, it is the
    file's own order, the same on every read of the same bytes.
    """
    w = Window.partitionBy(C.SOURCE_FILE).orderBy(_SPLIT, _SCAN_ID)
    return df.withColumn(C.SOURCE_ROW, F.row_number().over(w).cast("long")).drop(_SPLIT, _SCAN_ID)


def _stage_xes(files: list[str]) -> str:
    """Parse XES logs into a temporary Parquet folder, removed when the process exits."""
    import atexit
    import shutil
    import tempfile

    from visitonce import xes

    staging = tempfile.mkdtemp(prefix="visitonce-xes-")
    atexit.register(shutil.rmtree, staging, ignore_errors=True)
    try:
        stats = xes.to_parquet(files, staging)
    except (ValueError, SyntaxError, OSError) as e:  # ParseError is a SyntaxError
        raise InputError(f"cannot read the XES log(s): {e}".splitlines()[0]) from e
    if stats.rows == 0:
        raise InputError(f"no events in the XES log(s) {', '.join(files)}: nothing to ingest")
    return staging


def csv_header(spark: SparkSession, uri: str, *, mapping: SourceMapping) -> tuple[str, ...]:
    """The column names in a CSV file's first line (decompressed and decoded in the JVM);
    empty for an empty file."""
    import csv

    fs, path = _hadoop_path(spark, uri)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(
        spark.sparkContext._jsc.hadoopConfiguration()
    ).getCodec(path)
    stream = fs.open(path)
    if codec is not None:
        stream = codec.createInputStream(stream)
    reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, mapping.encoding))
    try:
        line = reader.readLine() or ""
    finally:
        reader.close()
    line = line.lstrip("\ufeff")  # spreadsheet re-saves add a byte-order mark
    if not line.strip():
        return ()
    return tuple(next(csv.reader([line], delimiter=mapping.delimiter)))


def _as_string(df: DataFrame, name: str) -> Any:
    """A column as a string; timestamps as ISO 8601 with an explicit UTC offset."""
    dtype = df.schema[name].dataType
    col = F.col(f"`{name}`")
    if isinstance(dtype, (T.TimestampType, T.TimestampNTZType)):
        return F.date_format(col, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX").alias(name)
    if isinstance(dtype, T.StringType):
        return col
    if isinstance(dtype, (T.StructType, T.ArrayType, T.MapType)):
        return F.to_json(col).alias(name)
    return col.cast("string").alias(name)


def read_table_raw(spark: SparkSession, uri: str) -> RawInput:
    """Read a reference table (catalog, roster) with contract column names, all as strings."""
    from visitonce.mapping import SourceMapping as _SM

    return read_raw(spark, uri, mapping=_SM(name="reference"))


# Parquet bytes per value (one column of one row), an upper estimate measured on the generated
# city (50k events over 31 days, whole pipeline): events 72 B a row over 23 columns (3.1 B a
# value), applications 53 over 21 (2.5), step_timings 58 over 26 (2.2), in files of 1,600 to
# 25,000 rows (larger files compress better). Rounded up, so files stay under the target.
BYTES_PER_VALUE = 4
# Shuffle bytes (what adaptive execution sizes a write's tasks by) per Parquet byte written:
# 2.4 measured on step_timings; 2, so a task's output stays under the target too.
SHUFFLE_BYTES_PER_FILE_BYTE = 2


def rows_per_file(contract: Contract, *, target_file_mb: float) -> int:
    """Rows in a file of about ``target_file_mb`` MiB of the contract's table: the target over
    an estimate of a row's bytes from its column count (at least 10,000 rows)."""
    row_bytes = BYTES_PER_VALUE * len(contract.columns)
    return max(10_000, int(target_file_mb * 2**20 / row_bytes))


@contextmanager
def _tasks_sized_to(
    spark: SparkSession, target_file_mb: float, *, partitioned: bool
) -> Iterator[None]:
    """Adaptive execution splits the write's shuffle partitions at the file target, for the
    duration of one write; the session's settings are restored.

    An unpartitioned table's tasks are also merged up to the target (not to the cores, the
    default), since each task writes a file. A partitioned table's are merged to the cores as
    usual: a partition is in one task whatever the merging, and a long history of small days
    is written by every core (four years of 34-row days: 15 s instead of 23 s on 2 cores).
    """
    settings = {
        "spark.sql.adaptive.advisoryPartitionSizeInBytes": str(
            int(target_file_mb * 2**20 * SHUFFLE_BYTES_PER_FILE_BYTE)
        ),
    }
    if not partitioned:
        settings["spark.sql.adaptive.coalescePartitions.parallelismFirst"] = "false"
    before = {k: spark.conf.get(k) for k in settings}
    for k, v in settings.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in before.items():
            spark.conf.set(k, v)


def write_table(
    df: DataFrame,
    uri: str,
    contract: Contract,
    *,
    mode: str = "overwrite",
    target_file_mb: float = OutputConfig.target_file_mb,
) -> None:
    """Write a table that conforms to its contract (checked before writing), safely, in files
    sized to the data: about ``target_file_mb`` MiB each at most (config ``output``).

    Partitioned tables are written with dynamic partition overwrite: exactly the partitions
    present in ``df`` are replaced, through Spark's staging directory, so reruns and backfills
    are safe and a failed job leaves the previous partitions in place. An unpartitioned table is
    written beside the old one and swapped in only when complete, so a job killed mid-write
    leaves the previous good table readable.
    """
    out = conform(df, contract)
    problems = check_schema(out, contract)
    if problems:  # pragma: no cover - conform makes this unreachable unless a contract is wrong
        raise ValueError("; ".join(problems))
    # Rebalanced before writing: adaptive execution merges small tasks and splits large ones
    # by the bytes they really hold, so a small table is one file (a 46-row catalog was 16) and
    # a large one several under the target; rebalanced by the partition columns, a partition
    # stays in one task (one file: a day of 5k events was 200 files) unless it is larger than
    # the target. maxRecordsPerFile caps a file where a task still holds more. Without adaptive
    # execution (on by default) a table is one file per shuffle partition.
    out = out.hint("rebalance", *contract.partition_by)
    writer = (
        out.write.mode(mode)
        .option("partitionOverwriteMode", "dynamic")
        .option("maxRecordsPerFile", rows_per_file(contract, target_file_mb=target_file_mb))
    )
    spark = out.sparkSession
    with _tasks_sized_to(spark, target_file_mb, partitioned=bool(contract.partition_by)):
        if contract.partition_by:
            writer.partitionBy(*contract.partition_by).parquet(uri)
            return
        if mode != "overwrite":
            writer.parquet(uri)
            return
        import uuid

        _recover(spark, uri.rstrip("/"))
        staging = f"{uri.rstrip('/')}.__staging-{uuid.uuid4().hex[:12]}"
        try:
            writer.parquet(staging)
        except Exception:
            delete(spark, staging)
            raise
    _swap(spark, staging, uri.rstrip("/"))


def write_partition(
    df: DataFrame,
    uri: str,
    contract: Contract,
    *,
    partition: dict[str, Any],
    target_file_mb: float = OutputConfig.target_file_mb,
) -> int:
    """Write the rows of one partition of a partitioned table (``partition``: its column ->
    value) and return how many there were. With no rows the partition is removed, so a rerun
    that finds nothing does not leave an earlier run's rows in place (dynamic overwrite only
    replaces the partitions it writes)."""
    n = df.count()
    if n or not exists(df.sparkSession, uri):  # a first, empty write still creates the table
        write_table(df, uri, contract, target_file_mb=target_file_mb)
    else:
        drop_partition(df.sparkSession, uri, partition)
    return n


def drop_partition(spark: SparkSession, uri: str, partition: dict[str, Any]) -> None:
    """Remove one partition (column -> value, in partition order) of a table, if present."""
    value = lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)  # noqa: E731
    delete(spark, join_uri(uri, "/".join(f"{k}={value(v)}" for k, v in partition.items())))


def delete(spark: SparkSession, uri: str) -> None:
    """Remove a file or folder (recursively), if present."""
    fs, path = _hadoop_path(spark, uri)
    if fs.exists(path):
        fs.delete(path, True)


def _recover(spark: SparkSession, target: str) -> None:
    """Clear what a writer killed mid-write left beside ``target``: its partial staging copy,
    and the old table it had moved aside (put back if the new one never arrived)."""
    fs, target_path = _hadoop_path(spark, target)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    for pattern in (".__staging-*", ".__old-*"):
        found = fs.globStatus(jvm.org.apache.hadoop.fs.Path(target + pattern)) or []
        for status in found:
            path = status.getPath()
            if pattern == ".__old-*" and not fs.exists(target_path):
                fs.rename(path, target_path)
            else:
                fs.delete(path, True)


def _swap(spark: SparkSession, staging: str, target: str) -> None:
    """Replace ``target`` by ``staging``: two renames, the old copy deleted last."""
    fs, target_path = _hadoop_path(spark, target)
    _, staging_path = _hadoop_path(spark, staging)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    old = jvm.org.apache.hadoop.fs.Path(staging.replace(".__staging-", ".__old-"))
    had_old = bool(fs.exists(target_path))
    if had_old and not fs.rename(target_path, old):
        raise OSError(f"could not move {target} aside to replace it")
    if not fs.rename(staging_path, target_path):
        if had_old:
            fs.rename(old, target_path)
        raise OSError(f"could not move the new {target} into place")
    if had_old:
        fs.delete(old, True)


def check_local_input(uri: str, *, what: str, flag: str) -> None:
    """Fail fast (before Spark starts) when a local input path matches nothing.

    Remote URIs (s3a://, hdfs://) are checked later, through Hadoop, when Spark is up.
    """
    import glob
    from urllib.parse import urlparse

    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return
    local = parsed.path if parsed.scheme == "file" else uri
    if not glob.glob(local):
        raise InputError(
            f"{what} not found at {uri}: pass an existing file, folder or glob to {flag}"
        )
