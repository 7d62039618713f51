"""The Python side of Spark must match its jars (pyspark-client can overwrite pyspark's files)."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pyspark


def test_pyspark_client_and_pyspark_are_the_same_release() -> None:
    assert version("pyspark-client") == version("pyspark")


def test_python_package_matches_the_jars(spark) -> None:
    jars = Path(pyspark.__file__).parent / "jars"
    core = [p.name for p in jars.glob("spark-core_*.jar")]
    assert len(core) == 1, core
    jar_version = re.match(r"spark-core_[\d.]+-(.+)\.jar", core[0]).group(1)
    assert pyspark.__version__ == jar_version == spark.version == version("pyspark")


def test_pandas_is_below_3() -> None:
    import pandas

    assert int(pandas.__version__.split(".")[0]) < 3
