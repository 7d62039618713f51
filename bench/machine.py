"""What a benchmark's figures were measured on: printed beside them (docs/benchmarks.md)."""

from __future__ import annotations

import datetime as dt
import os
import platform

import psutil


def context(spark) -> dict[str, object]:  # noqa: ANN001 - a SparkSession
    """The machine, its load average and the date, as the benchmarks' summaries print them."""
    return {
        "machine": f"{os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.machine()}, "
        f"Python {platform.python_version()}, Spark {spark.version}",
        "load_average": os.getloadavg(),
        "date": dt.date.today().isoformat(),
    }
