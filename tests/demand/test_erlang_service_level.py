"""Service level P(wait <= t) of M/M/c against textbook values and closed forms."""

from __future__ import annotations

import math

import pytest

from visitonce.monitor.erlang import erlang_c, servers_for_service_level, service_level


def test_mm1_service_level_is_the_closed_form() -> None:
    # M/M/1, lambda = 0.5/min, mu = 1/min: P(Wq <= t) = 1 - rho exp(-mu (1 - rho) t).
    assert service_level(1, 0.5, 1.0, 2.0) == pytest.approx(1 - 0.5 * math.exp(-1.0))
    assert service_level(1, 0.5, 1.0, 0.0) == pytest.approx(0.5)  # P(no wait) = 1 - rho


def test_call_centre_textbook_example() -> None:
    # The classic worked example: 100 calls per 30 minutes, 180 s handling time (10 Erlangs),
    # target 80% answered within 20 s. 11 agents: P(wait) = 0.6821, service level 39%;
    # 13 agents: 79.6%; 14 agents: 88.8%, the first count that meets the target.
    lam, s = 100 / 1800, 180.0
    assert erlang_c(11, 10.0) == pytest.approx(0.6821, abs=5e-5)
    assert service_level(11, lam, s, 20.0) == pytest.approx(0.3896, abs=5e-4)
    assert service_level(13, lam, s, 20.0) == pytest.approx(0.7956, abs=5e-4)
    assert service_level(14, lam, s, 20.0) == pytest.approx(0.8884, abs=5e-4)
    assert servers_for_service_level(lam, s, 20.0, 0.8) == 14


def test_hand_computed_mm2() -> None:
    # M/M/2, lambda = mu = 1 (a = 1): P(wait) = 1/3; SL(t) = 1 - exp(-t)/3.
    assert service_level(2, 1.0, 1.0, 1.0) == pytest.approx(1 - math.exp(-1.0) / 3)
    # one server cannot keep up with a = 1: unstable, nobody is sure to be served in time
    assert service_level(1, 1.0, 1.0, 1.0) == 0.0
    # 1 - e^-1/3 = 0.877 >= 0.8 with 2 servers; 0.9 needs 3 (P(wait) = 1/11, 1 - e^-2/11 = 0.988)
    assert servers_for_service_level(1.0, 1.0, 1.0, 0.8) == 2
    assert servers_for_service_level(1.0, 1.0, 1.0, 0.9) == 3
    assert servers_for_service_level(0.0, 1.0, 1.0, 0.9) == 0
