"""The executor check's one-line messages (the cluster test runs the check itself)."""

from __future__ import annotations

from visitonce.spark import executor_problem, failure_problem


def test_a_missing_module_is_named_with_the_fix() -> None:
    answers = [("3.11", "/usr/bin/python3", []), ("3.11", "/usr/bin/python3", ["pyarrow (x)"])]
    line = executor_problem(answers, driver_minor="3.11")
    assert line is not None and "cannot import pyarrow" in line
    assert "/usr/bin/python3" in line and "PYSPARK_PYTHON" in line and "\n" not in line


def test_another_python_minor_is_named() -> None:
    line = executor_problem([("3.10", "/opt/py", [])], driver_minor="3.11")
    assert line is not None and "Python 3.10" in line and "Python 3.11" in line


def test_matching_executors_pass() -> None:
    assert executor_problem([("3.11", "/opt/py", [])] * 2, driver_minor="3.11") is None


def test_a_worker_that_cannot_start_says_why() -> None:
    trace = (
        "An error occurred while calling o1.collect.\n: org.apache.spark.SparkException: Job "
        'aborted ... File "<frozen runpy>", line 1\nModuleNotFoundError: No module named '
        "'pyspark'\n"
    )
    assert "cannot import pyspark" in failure_problem(trace, driver_minor="3.11")
    started = failure_problem(
        'java.io.IOException: Cannot run program "python9": error=2', driver_minor="3.11"
    )
    assert "cannot start Python 'python9'" in started
    mismatch = failure_problem(
        "[PYTHON_VERSION_MISMATCH] Python in worker has different version: 3.10 than that in "
        "driver: 3.11",
        driver_minor="3.11",
    )
    assert "Python 3.10" in mismatch
    other = failure_problem("boom\nmore", driver_minor="3.11")
    assert other.startswith("a test job on the Spark executors failed (boom)")


def test_spark_submit_in_local_mode_gets_the_local_settings_unless_given(tmp_path) -> None:
    """The DAGs submit with spark-submit, by default to local[2]: the session gets the local
    shuffle partitions (not Spark's 200, which cost a 2,000-event run 3x its time), and a
    setting given to spark-submit wins."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "probe.py"
    script.write_text(
        "from visitonce.spark import build_session\n"
        "s = build_session(app_name='probe')\n"
        "print('PROBE', s.sparkContext.master, s.conf.get('spark.sql.shuffle.partitions'),\n"
        "      s.conf.get('spark.sql.sources.parallelPartitionDiscovery.threshold'))\n",
        encoding="utf-8",
    )
    submit = Path(sys.executable).parent / "spark-submit"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("VISITONCE_SHUFFLE_PARTITIONS", None)

    def probe(*extra: str) -> list[str]:
        out = subprocess.run(
            [submit, "--master", "local[2]", *extra, str(script)],
            env=env, capture_output=True, text=True, timeout=300, check=True,
        ).stdout  # fmt: skip
        return next(line for line in out.splitlines() if line.startswith("PROBE")).split()

    assert probe() == ["PROBE", "local[2]", "16", "100000"]
    given = probe("--conf", "spark.sql.shuffle.partitions=3")
    assert given == ["PROBE", "local[2]", "3", "100000"]


def test_without_a_java_compiler_local_files_keep_hadoops_own_file_system(
    tmp_path, monkeypatch
) -> None:
    """The in-process permissions class is compiled on first use; with no javac the session
    keeps Hadoop's local file system (slower writes, same files) and says why, once."""
    import shutil

    import pytest

    from visitonce import spark as S

    monkeypatch.setenv("VISITONCE_CACHE", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.warns(UserWarning, match="no javac"):
        assert S.local_fs_jar() is None
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_cache_keeps_hadoops_file_system_and_says_where_to_build(
    tmp_path, monkeypatch
) -> None:
    """A cache folder that cannot be made (a read-only home, say) is no failed session."""
    import shutil

    import pytest

    from visitonce import spark as S

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("VISITONCE_CACHE", str(blocked / "cache"))
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    with pytest.warns(UserWarning, match="VISITONCE_CACHE"):
        assert S.local_fs_jar() is None


def test_the_local_file_system_class_is_compiled_once_into_the_cache(tmp_path, monkeypatch) -> None:
    import shutil
    import zipfile

    from visitonce import spark as S

    if not shutil.which("javac"):
        import pytest

        pytest.skip("no javac on this machine")
    monkeypatch.setenv("VISITONCE_CACHE", str(tmp_path))
    jar = S.local_fs_jar()
    assert jar is not None and jar.parent == tmp_path
    names = zipfile.ZipFile(jar).namelist()
    assert "org/visitonce/fs/FastLocalFileSystem.class" in names
    assert "org/visitonce/fs/FastLocalFileSystem$Raw.class" in names
    stamp = jar.stat().st_mtime_ns
    assert S.local_fs_jar() == jar and jar.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [jar.name]


def test_a_class_path_given_to_the_session_keeps_the_local_file_system_jar(tmp_path) -> None:
    """A caller's ``spark.driver.extraClassPath`` is joined with the jar, not replaced by it,
    nor does it drop the jar while ``fs.file.impl`` still names the class (a fresh JVM)."""
    import os
    import subprocess
    import sys

    from visitonce.spark import LOCAL_FS_CLASS, local_fs_jar

    jar = local_fs_jar()
    if jar is None:
        import pytest

        pytest.skip("the local file system class cannot be built here (no javac)")
    mine = tmp_path / "mine.jar"
    script = tmp_path / "probe.py"
    script.write_text(
        "import sys\n"
        "from visitonce.spark import build_session\n"
        f"s = build_session(master='local[1]', conf={{'spark.driver.extraClassPath': {str(mine)!r}}})\n"
        "s.range(3).write.parquet(sys.argv[1])\n"
        "print('PROBE', s.sparkContext.getConf().get('spark.driver.extraClassPath'),\n"
        "      s.sparkContext._jsc.hadoopConfiguration().get('fs.file.impl'),\n"
        "      s.read.parquet(sys.argv[1]).count())\n",
        encoding="utf-8",
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("SPARK_ENV_LOADED", "PYSPARK_SUBMIT_ARGS")
    }
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "t")],
        env=env, capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    line = next(x for x in out.splitlines() if x.startswith("PROBE")).split()
    assert line == ["PROBE", os.pathsep.join([str(mine), str(jar)]), LOCAL_FS_CLASS, "3"]
