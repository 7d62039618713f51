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
