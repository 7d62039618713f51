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
        settings.update(_local_runtime())
        settings["spark.driver.memory"] = os.environ.get("VISITONCE_DRIVER_MEMORY", "4g")
        settings["spark.ui.enabled"] = "false"
        settings.update(_local_file_system())
    given = dict(conf or {})
    classpath = "spark.driver.extraClassPath"
    if classpath in given and classpath in settings:  # the caller's class path, and our jar
        given[classpath] = os.pathsep.join([given[classpath], settings[classpath]])
    settings.update(given)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(os.environ.get("VISITONCE_SPARK_LOG_LEVEL", "ERROR"))
    if not effective_master and session.sparkContext.master.startswith("local"):
        # spark-submit chose local mode (the DAGs' default connection is local[2]): the same
        # runtime settings as a local session, where the submit did not set them. Without them
        # every shuffle of a run had Spark's 200 partitions: a run of all stages on 2,000
        # events took 718 s instead of 227 s, 161 s of it system time writing shuffle files.
        given = session.sparkContext.getConf()
        for key, value in _local_runtime().items():
            if not given.contains(key):
                session.conf.set(key, value)
    if not session.sparkContext.master.startswith("local"):
        # Executors elsewhere need the library for pandas UDFs: ship it with the job, so the
        # same code runs on a cluster without installing anything on the workers. The master
        # is the session's own, so this also holds when spark-submit chose it (the DAGs).
        session.sparkContext.addPyFile(_package_zip())
        if os.environ.get("VISITONCE_SKIP_EXECUTOR_CHECK") != "1":
            check_executors(session)
    return session


# What the executors import: pandas UDFs and Arrow batches (pandas, pyarrow, numpy), the
# models and tests run inside them (scikit-learn, scipy), and the shipped package itself.
EXECUTOR_MODULES = ("pandas", "pyarrow", "numpy", "sklearn", "scipy", "visitonce")
EXECUTOR_CHECK_SECONDS = 60


class ExecutorEnvironmentError(RuntimeError):
    """The cluster's executors cannot run the project's Python code; says how to fix it."""


def _fix(python: str | None, minor: str) -> str:
    where = f" (executors run {python})" if python else ""
    return (
        f"{where}: point PYSPARK_PYTHON or spark.pyspark.python at a Python {minor} that has "
        "the project's dependencies installed on every worker (pip install the visitonce "
        "package there), or run the workers from the docker/ image"
    )


def executor_problem(answers: list[tuple[str, str, list[str]]], *, driver_minor: str) -> str | None:
    """One line naming what the executors lack (a module, the Python version), or None.

    ``answers`` are (python minor, executable, [missing module: error]) from each probe task.
    """
    for minor, executable, missing in answers:
        if missing:
            return f"Spark executors cannot import {', '.join(missing)}" + _fix(
                executable, driver_minor
            )
        if minor != driver_minor:
            return (
                f"Spark executors run Python {minor} but the driver runs Python {driver_minor}"
                + _fix(executable, driver_minor)
            )
    return None


def failure_problem(text: str, *, driver_minor: str) -> str:
    """One line from a probe job's failure: the worker's own reason where it says one."""
    import re

    missing = re.search(r"No module named '([^']+)'", text)
    if missing:
        return f"Spark executors cannot import {missing.group(1)}" + _fix(None, driver_minor)
    version = re.search(r"Python in worker has different version:? \(?(\d+\.\d+)", text)
    if version:
        return (
            f"Spark executors run Python {version.group(1)} but the driver runs Python "
            f"{driver_minor}" + _fix(None, driver_minor)
        )
    program = re.search(r"Cannot run program \"([^\"]+)\"", text)
    if program:
        return f"Spark executors cannot start Python {program.group(1)!r}" + _fix(
            None, driver_minor
        )
    first = (text.strip().splitlines() or ["unknown error"])[0][:200]
    return f"a test job on the Spark executors failed ({first})" + _fix(None, driver_minor)


def check_executors(session: SparkSession, *, timeout: float = EXECUTOR_CHECK_SECONDS) -> None:
    """Fail fast on a cluster whose executors cannot run the project's Python code.

    A tiny job imports ``EXECUTOR_MODULES`` on the executors and reports their Python
    version, before any real work; a missing module or another Python minor version ends the
    run within ``timeout`` seconds with ExecutorEnvironmentError (one line, with the fix),
    instead of a worker traceback minutes later.
    """
    import threading
    import uuid

    sc = session.sparkContext
    driver_minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    modules = EXECUTOR_MODULES

    def probe(_rows):  # pickled by value: needs nothing from this package to run
        import importlib
        import sys as s

        missing = []
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as e:  # noqa: BLE001 - reported, not raised
                missing.append(f"{name} ({type(e).__name__}: {e})")
        yield (f"{s.version_info[0]}.{s.version_info[1]}", s.executable, missing)

    group = f"visitonce-executor-check-{uuid.uuid4().hex[:8]}"
    result: dict[str, object] = {}
    tasks = max(sc.defaultParallelism, 1)

    def run() -> None:
        sc.setJobGroup(group, "visitonce: check the executors' Python", interruptOnCancel=True)
        try:
            result["answers"] = sc.parallelize(range(tasks), tasks).mapPartitions(probe).collect()
        except Exception as e:  # noqa: BLE001 - turned into one line below
            result["error"] = str(e)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        sc.cancelJobGroup(group)
        raise ExecutorEnvironmentError(
            f"no Spark executor answered a test job within {timeout:.0f} s on "
            f"{sc.master}: check that workers are registered with the master and have free "
            "cores and memory for this application"
        )
    if "error" in result:
        raise ExecutorEnvironmentError(
            failure_problem(str(result["error"]), driver_minor=driver_minor)
        )
    problem = executor_problem(list(result["answers"]), driver_minor=driver_minor)  # type: ignore[arg-type]
    if problem:
        raise ExecutorEnvironmentError(problem)


def _local_runtime() -> dict[str, str]:
    """SQL settings of a session on one machine (runtime settings: they can be set on a
    session that spark-submit started)."""
    return {
        # Small shuffles on one machine; AQE coalesces further. Clusters keep their defaults.
        "spark.sql.shuffle.partitions": os.environ.get("VISITONCE_SHUFFLE_PARTITIONS", "16"),
        # List a table's partition folders on the driver: past 32 folders Spark lists them in
        # a job, 3 ms a folder here (four years of daily events/: 4.6 s instead of 0.3 s).
        "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000",
    }


LOCAL_FS_CLASS = "org.visitonce.fs.FastLocalFileSystem"
_LOCAL_FS_SOURCE = Path(__file__).resolve().parent / "java" / "FastLocalFileSystem.java"


def _local_file_system() -> dict[str, str]:
    """Settings that make the session's local files (``file:``) Hadoop's checksummed local file
    system with permissions set in-process (``java/FastLocalFileSystem.java``), or none.

    Without Hadoop's native library, which pip's pyspark lacks, every file and folder Spark
    creates on local disk starts a ``chmod`` process: about five per written Parquet file.
    Four years of daily partitions (50k rows in 1,461 files) took 11 s to write, and 2.7 s with
    this class (docs/benchmarks.md). Only for a JVM this process starts (the class must be on
    the driver's class path from the start); none where a JVM is already running, where
    ``VISITONCE_FAST_LOCAL_FS=0``, or where the class cannot be compiled (no ``javac``).
    """
    from pyspark import SparkContext

    if os.environ.get("VISITONCE_FAST_LOCAL_FS", "1") == "0" or SparkContext._gateway is not None:
        return {}
    jar = local_fs_jar()
    if jar is None:
        return {}
    return {"spark.driver.extraClassPath": str(jar), "spark.hadoop.fs.file.impl": LOCAL_FS_CLASS}


def local_fs_jar() -> Path | None:
    """The compiled ``FastLocalFileSystem`` jar, built once per source and Spark release into
    ``$VISITONCE_CACHE`` (default ``~/.cache/visitonce``); None, with a warning, if it cannot be
    built (``javac``, a JDK's compiler, missing)."""
    import hashlib
    import shutil
    import warnings

    from pyspark.find_spark_home import _find_spark_home

    jars = Path(_find_spark_home()) / "jars"
    digest = hashlib.sha256(_LOCAL_FS_SOURCE.read_bytes())
    digest.update(" ".join(sorted(p.name for p in jars.glob("hadoop-client-api-*.jar"))).encode())
    cache = Path(os.environ.get("VISITONCE_CACHE") or os.path.expanduser("~/.cache/visitonce"))
    jar = cache / f"visitonce-localfs-{digest.hexdigest()[:16]}.jar"
    if jar.exists():
        return jar
    javac, jar_tool = shutil.which("javac"), shutil.which("jar")
    if not javac or not jar_tool:
        warnings.warn(
            "no javac: local Spark writes start a chmod process per file (slower); install a "
            "JDK (e.g. Debian's openjdk-17-jdk-headless) to avoid it",
            stacklevel=2,
        )
        return None
    try:
        cache.mkdir(parents=True, exist_ok=True)
        return _build_local_fs_jar(jar, javac=javac, jar_tool=jar_tool, jars=jars)
    except OSError as e:  # e.g. a read-only home: Hadoop's own class, not a failed session
        warnings.warn(f"could not build {jar.name} in {cache} ({e}); set VISITONCE_CACHE to a "
                      "writable folder", stacklevel=2)  # fmt: skip
        return None


def _build_local_fs_jar(jar: Path, *, javac: str, jar_tool: str, jars: Path) -> Path | None:
    import subprocess
    import tempfile
    import warnings

    with tempfile.TemporaryDirectory(dir=jar.parent) as tmp:
        classes = Path(tmp) / "classes"
        built = Path(tmp) / jar.name
        try:
            subprocess.run(
                [javac, "-nowarn", "--release", "17", "-cp", f"{jars}/*", "-d", str(classes),
                 str(_LOCAL_FS_SOURCE)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            subprocess.run(
                [jar_tool, "cf", str(built), "-C", str(classes), "."],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
        except subprocess.CalledProcessError as e:
            first = (e.stderr or e.stdout or "").strip().splitlines()[:1]
            warnings.warn(f"could not compile {_LOCAL_FS_SOURCE.name}: {first}", stacklevel=2)
            return None
        os.replace(built, jar)  # atomic: concurrent builders each write a whole jar
    return jar


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
