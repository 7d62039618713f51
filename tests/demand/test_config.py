"""The demand config section: loaded from YAML, validated."""

from __future__ import annotations

import pytest

from visitonce.config import ConfigError, DemandConfig, load_config


def test_demand_section_loads_and_validates(tmp_path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(
        "demand:\n  service_level: 0.9\n  target_wait_minutes: 10\n  official_time_factor: 2.5\n"
    )
    c = load_config(f).demand
    assert (c.service_level, c.target_wait_minutes, c.official_time_factor) == (0.9, 10, 2.5)
    assert load_config(None).demand == DemandConfig()
    f.write_text("demand:\n  service_level: 1.2\n")
    with pytest.raises(ConfigError, match="service_level"):
        load_config(f)
    f.write_text("demand:\n  wait: 3\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(f)
