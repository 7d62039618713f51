"""The degenerate-input matrix (issue 16): every stage completes on small logs that lack, one at
a time and together, each optional part of the contract: applicant IDs, arrivals,
satisfaction, centre / location / district, the catalog, the roster; a single item,
department, centre or day; all cases open; completion-only logs; one application; a department
with none. A figure that cannot be computed is null or said to be unavailable, never a crash.

Hypothesis draws the combinations (tests/degenerate.py); the hand-picked corners run first as
explicit examples. ``VISITONCE_FUZZ_EXAMPLES`` draws more (derandomized unless
``VISITONCE_FUZZ_RANDOM`` is set).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.degenerate import OPTIONAL, Shape, as_of, write_log
from visitonce import columns as C
from visitonce.mapping import load_mapping
from visitonce.pipeline import RunRequest, run_pipeline
from visitonce.stages import analytic_stages

EXAMPLES = int(os.environ.get("VISITONCE_FUZZ_EXAMPLES", "1"))

shapes = st.builds(
    Shape,
    applications=st.integers(1, 30),
    items=st.integers(1, 4),
    departments=st.integers(1, 3),
    centres=st.integers(1, 3),
    days=st.integers(1, 8),
    drop=st.frozensets(st.sampled_from(OPTIONAL)),
    catalog=st.booleans(),
    roster=st.booleans(),
    all_open=st.booleans(),
    completion_only=st.booleans(),
    empty_department=st.booleans(),
    seed=st.integers(0, 99),
)


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("VISITONCE_FUZZ_RANDOM"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
@given(shape=shapes)
# no applicant, arrival, satisfaction, centre, location, district ...; no catalog, no roster
@example(shape=Shape(drop=frozenset(OPTIONAL), catalog=False, roster=False))
# one item, one department, one centre, one day, every case still open
@example(shape=Shape(items=1, departments=1, centres=1, days=1, all_open=True))
# a completion-only log of anonymous reports; a catalog department with no application
@example(
    shape=Shape(
        completion_only=True,
        drop=frozenset({C.CITIZEN_ID, C.ARRIVED_AT}),
        empty_department=True,
    )
)
# a month holding one application
@example(shape=Shape(applications=1, items=1, departments=1, centres=1))
def test_every_stage_completes(spark, tmp_path: Path, shape: Shape) -> None:
    root = tmp_path / uuid.uuid4().hex[:8]
    inputs = write_log(shape, root / "landing")
    req = RunRequest(
        events=inputs["events"],
        out=str(root / "out"),
        mapping=load_mapping(inputs["source"]),
        key=b"degenerate-key-0123456789",
        as_of=as_of(shape),
        catalog=inputs["catalog"],
        roster=inputs["roster"],
    )
    manifest = run_pipeline(spark, req)  # raises StagesFailed if any stage failed
    what = shape.describe()
    assert manifest["status"] == "succeeded" and not manifest["failed_stages"], what
    assert manifest["rows_in"] == (
        manifest["rows_clean"] + manifest["rows_quarantined"] + manifest["rows_duplicate"]
    ), what
    sections = manifest["stage_results"]
    assert set(sections) == {name for name, _ in analytic_stages()}, what
    if manifest["rows_clean"]:
        assert sections["applications"]["rows"] >= 1, what
    bundles = sections["bundles"]
    if C.CITIZEN_ID in shape.drop and "scopes" in bundles:
        assert "unavailable" in bundles["scopes"]["citizen"], what
    reports = root / "out" / "reports"
    pages = sorted(reports.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "bundles.html", "lagging.html"}, what
    for page in pages:
        assert "failed:" not in page.read_text("utf-8"), (page.name, what)
    assert json.loads((root / "out" / "manifest.json").read_text())["status"] == "succeeded"
