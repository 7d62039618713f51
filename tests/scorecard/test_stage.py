"""The scorecards stage inside a real run (``run_pipeline``, ``--stages scorecards``): its four
tables written under their contracts, its manifest section, and an honest gap where the run has
no lagging_steps table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import functions as F

from visitonce import schemas
from visitonce.config import Config, ScorecardsConfig
from visitonce.generate import generate
from visitonce.mapping import load_mapping
from visitonce.pipeline import RunRequest, run_pipeline
from visitonce.scorecard.stage import METHOD_VERSION, TABLES
from visitonce.stages import analytic_stages


def test_scorecards_stage_runs_after_lagging() -> None:
    names = [n for n, _ in analytic_stages()]
    assert names.index("scorecards") > names.index("lagging")


def test_stage_writes_contract_tables_and_manifest(tmp_path, spark) -> None:
    truth = generate(tmp_path / "landing", n_events=8_000, seed=5, days=14, dirty=False)
    config = Config(scorecards=ScorecardsConfig(mc_draws=300, sensitivity_draws=50))
    req = RunRequest(
        events=str(tmp_path / "landing" / "events"),
        out=str(tmp_path / "out"),
        mapping=load_mapping("canonical"),
        key=b"stage-test-key-0123456789",
        as_of=dt.datetime.fromisoformat(truth["period_end"]),
        catalog=str(tmp_path / "landing" / "catalog.csv"),
        config=config,
    )
    m = run_pipeline(spark, req, stages=["scorecards"])
    section = m["stage_results"]["scorecards"]
    assert section["method_version"] == METHOD_VERSION
    assert section["config_hash"] == config.hash()
    assert section["periods"] == ["2026-03", "2026-Q1", "2026"]
    assert section["departments"] >= 10
    assert 0.0 <= section["band_change_share_under_weight_perturbation"] <= 1.0
    assert section["unavailable_kpis"] == ["lagging_step_share"]  # lagging did not run
    out = Path(req.out)
    for t in TABLES:
        assert m["outputs"][t] == str(out / t)
        df = spark.read.parquet(str(out / t))
        contract = schemas.load(t)
        assert schemas.check_schema(df.select(*contract.names), contract) == []
        assert df.where(F.col("config_hash") != config.hash()).count() == 0
    cards = spark.read.parquet(str(out / "scorecards"))
    assert cards.where(F.col("lagging_step_share").isNotNull()).count() == 0
    unscored = cards.where(F.col("score").isNull())
    enough = (F.col("n_applications") >= 20) & (F.col("n_kpis_scored") >= 5)
    assert unscored.where(enough).count() == 0  # only too few cases go unscored
    assert unscored.where(~F.col("gate").startswith("too few cases")).count() == 0
    assert cards.where(F.col("score").isNotNull()).count() >= 10
    funnel = section["funnel"]
    assert funnel["method"] == "additive" and funnel["levels"] == [0.95, 0.998]
    assert set(funnel["kpis"]) >= {"on_time_rate", "satisfaction_mean"}
    assert 0 <= funnel["flagged_share"] <= funnel["flagged_share_unadjusted"] <= 1
    n_apps = spark.read.parquet(str(out / "applications")).count()
    month = cards.where(F.col("period") == "2026-03").agg(F.sum("n_applications")).first()[0]
    assert month == n_apps  # every application counted once in its month
