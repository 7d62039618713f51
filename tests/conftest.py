"""The one Spark fixture, and shared data fixtures."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

# Collected timestamps are naive datetimes in the driver's zone: make that UTC, as the session.
os.environ["TZ"] = "UTC"
time.tzset()
os.environ.setdefault("VISITONCE_SPARK_LOG_LEVEL", "ERROR")

TEST_KEY = "test-key-0123456789abcdef"


@pytest.fixture(scope="session")
def spark() -> Iterator:
    from visitonce.spark import build_session

    session = build_session(
        master="local[2]",
        app_name="visitonce-tests",
        conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "4"},
    )
    yield session
    session.stop()


@pytest.fixture()
def key_env(monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setenv("VISITONCE_PSEUDONYM_KEY", TEST_KEY)
    return TEST_KEY.encode()


# --- two workers (``make test`` runs ``pytest -n 2 --dist loadgroup``) ------------------------
# Each module is one group, so a module's fixtures (a generated city, a pipeline run) are built
# once, on one worker; the report tests share session fixtures (one city run) and form one
# group. Groups that start JVMs of their own or run whole pipelines go first, so that neither
# worker is left with a long test at the end while the other is idle.
_FIRST = (
    "tests/test_dags.py",
    "tests/report",
    "tests/test_cluster.py",
    "tests/test_degenerate.py",
    "tests/test_ingest_fuzz.py",
)


def _group(item: pytest.Item) -> str:
    path = item.nodeid.split("::", 1)[0]
    return "tests/report" if path.startswith("tests/report/") else path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    rank = {g: i for i, g in enumerate(_FIRST)}
    items.sort(key=lambda it: rank.get(_group(it), len(_FIRST)))  # stable: order kept within
