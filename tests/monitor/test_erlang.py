"""Erlang C against textbook M/M/c values."""

from __future__ import annotations

import math

import pytest

from visitonce.monitor.erlang import erlang_c, mean_wait, servers_needed


@pytest.mark.parametrize(
    ("c", "a", "expected"),
    [
        (1, 0.5, 0.5),  # M/M/1: P(wait) = rho
        (1, 0.9, 0.9),
        (2, 1.0, 1 / 3),  # M/M/2, rho = 0.5: P0 = 1/3, P(wait) = 1/3
        (3, 2.0, 4 / 9),  # M/M/3, lambda = 2, mu = 1: P0 = 1/9, P(wait) = 4/9
        (2, 2.5, 1.0),  # unstable
    ],
)
def test_erlang_c_textbook_values(c, a, expected) -> None:
    assert erlang_c(c, a) == pytest.approx(expected, rel=1e-12)


def test_erlang_c_matches_the_closed_form_for_large_c() -> None:
    a, c = 40.0, 45
    top = a**c / math.factorial(c) * c / (c - a)
    closed = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    assert erlang_c(c, a) == pytest.approx(closed, rel=1e-10)


def test_mean_wait_and_staffing() -> None:
    # M/M/3, lambda = 2/min, 1 min service: Lq = 8/9, Wq = Lq / lambda = 4/9 min.
    assert mean_wait(3, 2.0, 1.0) == pytest.approx(4 / 9)
    assert mean_wait(2, 2.0, 1.0) == math.inf
    # lambda = mu = 1: 2 officials wait (1/3) / (2 - 1) = 1/3 min > 0.2, 3 officials 1/22 min.
    assert servers_needed(1.0, 1.0, 0.2) == 3
    assert servers_needed(1.0, 1.0, 0.5) == 2
    assert servers_needed(0.0, 5.0, 1.0) == 0
