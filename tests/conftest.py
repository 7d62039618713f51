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


# --- two workers (``make test`` runs ``pytest -n 2``) ---------------------------------------------
# Each module is one unit of work, run whole on one worker, so a module's fixtures (a generated
# city, a pipeline run) are built once; the report tests share session fixtures (one city run)
# and form one unit. The units are handed out heaviest first (the order below, from the
# durations CI prints), so that neither worker is left with a long unit at the end while the
# other is idle.
#
# The scheduler is ours (``pytest_xdist_make_scheduler``), not xdist's ``loadgroup``: that one
# reads the ``xdist_group`` mark through a node id suffix that pytest 9 no longer lets a plugin
# set, so every module was split across both workers and built its fixtures twice (the report
# city, 300 s, ran on each worker); and it sorts units by their number of tests, so a module of
# one long test ran last.
_FIRST = (
    "tests/test_dags.py",
    "tests/report",
    "tests/test_degenerate.py",
    "tests/bundles/test_planted.py",
    "tests/test_pipeline.py",
    "tests/monitor/test_watch.py",
    "tests/test_cluster.py",
    "tests/lagging/test_planted.py",
    "tests/test_ingest_fuzz.py",
    "tests/demand/test_stage.py",
    "tests/lagging/test_parity.py",
    "tests/demand/test_planted.py",
    "tests/scorecard/test_planted.py",
    "tests/test_interrupted.py",
    "tests/test_incremental.py",
    "tests/lagging/test_variants.py",
    "tests/test_real_data.py",
)


def group_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its module, or ``tests/report`` for the report's."""
    path = nodeid.split("::", 1)[0]
    return "tests/report" if path.startswith("tests/report/") else path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {g: i for i, g in enumerate(_FIRST)}
    items.sort(key=lambda it: rank.get(group_of(it.nodeid), len(_FIRST)))  # stable within


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN201 - xdist's type
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        """Units are ``group_of`` each test, handed out in collection order; a worker gets its
        next unit when one test of its current unit is left (xdist's worker holds its last test
        until it knows the next), not two, so a long unit does not keep a second one waiting."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

        def _reschedule(self, node) -> None:  # noqa: ANN001
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
                return
            if self._pending_of(self.assigned_work[node]) <= 1:
                self._assign_work_unit(node)

    config.option.loadscopereorder = False
    return ByModule(config, log)
