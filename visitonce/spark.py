"""The only SparkSession builder.

Every job and the CLI get their session here, so local mode and a cluster differ only in the
master URL (``local[*]``, ``spark://host:7077``, ``yarn``, ``k8s://...``) and configuration
passed in, never in code.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"


def build_session(
    *,
    master: str | None = None,
    app_name: str = "visitonce",
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """Get or create the session.

    ``master`` None keeps what spark-submit configured (``spark.master``) and falls back to
    ``local[*]`` when run as a plain Python process. Timestamps are stored as UTC instants
    (``spark.sql.session.timeZone=UTC``); local-time logic takes its time zone from the config.
    """
    builder = SparkSession.builder.appName(app_name)
    submitted = os.environ.get("SPARK_ENV_LOADED") or os.environ.get("PYSPARK_SUBMIT_ARGS")
    effective_master = master or (None if submitted else DEFAULT_MASTER)
    if effective_master:
        builder = builder.master(effective_master)
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.ansi.enabled": "true",
        # Arrow makes toPandas/applyInPandas fast; fall back silently on unsupported types.
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        # GBK/GB18030 exports: Spark 4 only accepts the Unicode charsets unless this is set.
        "spark.sql.legacy.javaCharsets": "true",
    }
    if (effective_master or "").startswith("local"):
        # One machine: bind to loopback, and keep the driver's log to warnings worth reading.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        log_conf = Path(__file__).resolve().parent / "conf" / "log4j2.properties"
        settings["spark.driver.extraJavaOptions"] = f"-Dlog4j.configurationFile={log_conf.as_uri()}"
        # Small shuffles on one machine; AQE coalesces further. Clusters keep their defaults.
        settings["spark.sql.shuffle.partitions"] = os.environ.get(
            "VISITONCE_SHUFFLE_PARTITIONS", "16"
        )
        settings["spark.driver.memory"] = os.environ.get("VISITONCE_DRIVER_MEMORY", "4g")
        settings["spark.ui.enabled"] = "false"
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(os.environ.get("VISITONCE_SPARK_LOG_LEVEL", "ERROR"))
    return session
