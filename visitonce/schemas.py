"""Data contracts: load ``schemas/<table>.v<N>.yaml`` and build Spark and Arrow schemas from them.

The YAML files are the single source of truth for every table's columns and types; nothing
else in the code spells a type out. ``check_schema`` is what writers and tests use to prove a
DataFrame matches its contract.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import yaml

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import DataType, StructType

SCHEMAS_ENV = "VISITONCE_SCHEMAS"
_FILE_RE = re.compile(r"^(?P<table>[a-z_]+)\.v(?P<version>\d+)\.yaml$")


@dataclass(frozen=True)
class Column:
    """One column of a contract."""

    name: str
    type: str
    nullable: bool = True
    doc: str = ""
    input: str | None = None  # "required" / "optional" for columns of the input contract
    vocabulary: tuple[str, ...] | None = None
    pseudonymized: bool = False


@dataclass(frozen=True)
class Contract:
    """A versioned table contract."""

    table: str
    version: int
    description: str
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...] = field(default_factory=tuple)
    kind: str = "parquet"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.table} v{self.version} has no column {name!r}")


def schemas_dir() -> Path:
    """Where the contracts live: ``$VISITONCE_SCHEMAS`` or ``schemas/`` beside the package."""
    env = os.environ.get(SCHEMAS_ENV)
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parent.parent / "schemas")
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(
        f"contract folder not found (looked in {', '.join(map(str, candidates))}); "
        f"set {SCHEMAS_ENV} to the repository's schemas/ folder"
    )


def available() -> dict[str, list[int]]:
    """Every table with a contract, and its versions in ascending order."""
    found: dict[str, list[int]] = {}
    for path in schemas_dir().iterdir():
        m = _FILE_RE.match(path.name)
        if m:
            found.setdefault(m["table"], []).append(int(m["version"]))
    return {t: sorted(v) for t, v in sorted(found.items())}


@functools.cache
def load(table: str, version: int | None = None) -> Contract:
    """Load a contract; the latest version unless ``version`` is given."""
    versions = available().get(table)
    if not versions:
        raise KeyError(f"no contract for table {table!r} in {schemas_dir()}")
    v = versions[-1] if version is None else version
    if v not in versions:
        raise KeyError(f"table {table!r} has no contract version {v} (have {versions})")
    raw: dict[str, Any] = yaml.safe_load((schemas_dir() / f"{table}.v{v}.yaml").read_text("utf-8"))
    columns = tuple(
        Column(
            name=c["name"],
            type=c["type"],
            nullable=bool(c.get("nullable", True)),
            doc=c.get("doc", ""),
            input=c.get("input"),
            vocabulary=tuple(c["vocabulary"]) if c.get("vocabulary") else None,
            pseudonymized=bool(c.get("pseudonymized", False)),
        )
        for c in raw["columns"]
    )
    return Contract(
        table=raw["table"],
        version=int(raw["version"]),
        description=raw.get("description", ""),
        columns=columns,
        partition_by=tuple(raw.get("partition_by", ())),
        kind=raw.get("kind", "parquet"),
    )


# --- type strings -> Spark / Arrow ------------------------------------------------------------

_ATOMS = ("string", "integer", "long", "double", "boolean", "timestamp", "date")


def _split_type(type_str: str) -> tuple[str, list[str]]:
    """``map<string,long>`` -> ("map", ["string", "long"]); atoms -> (atom, [])."""
    s = type_str.replace(" ", "")
    if "<" not in s:
        if s not in _ATOMS:
            raise ValueError(f"unknown contract type {type_str!r}")
        return s, []
    head, inner = s.split("<", 1)
    if not inner.endswith(">"):
        raise ValueError(f"malformed contract type {type_str!r}")
    inner = inner[:-1]
    depth, start, parts = 0, 0, []
    for i, ch in enumerate(inner):
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    if (head, len(parts)) not in {("array", 1), ("map", 2)}:
        raise ValueError(f"unsupported contract type {type_str!r}")
    return head, parts


def spark_type(type_str: str) -> DataType:
    """The Spark type of a contract type string."""
    from pyspark.sql import types as T

    head, args = _split_type(type_str)
    atoms = {
        "string": T.StringType(),
        "integer": T.IntegerType(),
        "long": T.LongType(),
        "double": T.DoubleType(),
        "boolean": T.BooleanType(),
        "timestamp": T.TimestampType(),
        "date": T.DateType(),
    }
    if head == "array":
        return T.ArrayType(spark_type(args[0]), containsNull=True)
    if head == "map":
        return T.MapType(spark_type(args[0]), spark_type(args[1]), valueContainsNull=True)
    return atoms[head]


def arrow_type(type_str: str) -> pa.DataType:
    """The Arrow type of a contract type string (timestamps are UTC microseconds)."""
    head, args = _split_type(type_str)
    atoms = {
        "string": pa.string(),
        "integer": pa.int32(),
        "long": pa.int64(),
        "double": pa.float64(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
    }
    if head == "array":
        return pa.list_(arrow_type(args[0]))
    if head == "map":
        return pa.map_(arrow_type(args[0]), arrow_type(args[1]))
    return atoms[head]


def spark_schema(contract: Contract) -> StructType:
    """The Spark schema of a contract."""
    from pyspark.sql import types as T

    return T.StructType(
        [T.StructField(c.name, spark_type(c.type), nullable=c.nullable) for c in contract.columns]
    )


def arrow_schema(contract: Contract) -> pa.Schema:
    """The Arrow schema of a contract."""
    return pa.schema(
        [pa.field(c.name, arrow_type(c.type), nullable=c.nullable) for c in contract.columns]
    )


def check_schema(df: DataFrame, contract: Contract, *, extra_ok: bool = False) -> list[str]:
    """Differences between a DataFrame's schema and its contract (names and types); [] if none.

    Nullability is not compared: Spark widens it freely across writes and reads.
    """
    problems: list[str] = []
    actual = {f.name: f.dataType for f in df.schema.fields}
    for c in contract.columns:
        if c.name not in actual:
            problems.append(f"{contract.table}: missing column {c.name}")
        elif actual[c.name].simpleString() != spark_type(c.type).simpleString():
            problems.append(
                f"{contract.table}.{c.name}: {actual[c.name].simpleString()} "
                f"!= contract {spark_type(c.type).simpleString()}"
            )
    if not extra_ok:
        known = set(contract.names)
        problems += [
            f"{contract.table}: column {n} not in contract" for n in actual if n not in known
        ]
    return problems


def conform(df: DataFrame, contract: Contract) -> DataFrame:
    """Select the contract's columns in order, cast to its types; fail if one is missing."""
    from pyspark.sql import functions as F

    missing = [n for n in contract.names if n not in df.columns]
    if missing:
        raise ValueError(f"{contract.table}: transform did not produce {', '.join(missing)}")
    return df.select(
        *[F.col(c.name).cast(spark_type(c.type)).alias(c.name) for c in contract.columns]
    )
