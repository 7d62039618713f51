"""The only SparkSession builder.

Every job and the CLI get their session here, so local mode and a cluster differ only in the
master URL (``local[*]``, ``spark://host:7077``, ``yarn``, ``k8s://...``) and configuration
passed in, never in code.
"""

from __future__ import annotations

import os
import sys
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
        # Python workers (applyInPandas) must run this interpreter, which has pandas and
        # scikit-learn, not whatever python3 is first on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
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
    if not session.sparkContext.master.startswith("local"):
        # Executors elsewhere need the library for pandas UDFs: ship it with the job, so the
        # same code runs on a cluster without installing anything on the workers. The master
        # is the session's own, so this also holds when spark-submit chose it (the DAGs).
        session.sparkContext.addPyFile(_package_zip())
    return session


def _package_zip() -> str:
    """A zip of the visitonce package (built once per process) for ``addPyFile``."""
    import tempfile
    import zipfile

    global _ZIP
    if _ZIP is None:
        root = Path(__file__).resolve().parent
        fd, path = tempfile.mkstemp(prefix="visitonce-", suffix=".zip")
        os.close(fd)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(root.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts:
                    zf.write(f, Path("visitonce") / f.relative_to(root))
        _ZIP = path
    return _ZIP


_ZIP: str | None = None
