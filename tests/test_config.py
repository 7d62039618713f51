"""The run configuration: sections, defaults and range checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from visitonce.config import Config, ConfigError, load_config


def test_output_target_file_size_is_read_and_checked(tmp_path: Path) -> None:
    assert Config().output.target_file_mb == 128.0
    good = tmp_path / "good.yaml"
    good.write_text("output:\n  target_file_mb: 64\n")
    assert load_config(good).output.target_file_mb == 64
    for bad in ("0", "8192"):
        path = tmp_path / "bad.yaml"
        path.write_text(f"output:\n  target_file_mb: {bad}\n")
        with pytest.raises(ConfigError, match="output.target_file_mb"):
            load_config(path)


def test_late_arrival_days_is_read_and_checked(tmp_path: Path) -> None:
    assert Config().ingest.late_arrival_days == 3
    good = tmp_path / "good.yaml"
    good.write_text("ingest:\n  late_arrival_days: 0\n")
    assert load_config(good).ingest.late_arrival_days == 0
    for bad in ("-1", "1.5", "true"):
        path = tmp_path / "bad.yaml"
        path.write_text(f"ingest:\n  late_arrival_days: {bad}\n")
        with pytest.raises(ConfigError, match="ingest.late_arrival_days") as e:
            load_config(path)
        assert "\n" not in str(e.value)
