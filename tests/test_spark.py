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
