"""Erlang-C (M/M/c) queueing: probability of waiting, mean wait, and staffing to a target."""

from __future__ import annotations

import math


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue with ``servers`` servers and offered
    load ``a = lambda / mu`` (Erlangs); 1.0 when the queue is unstable (a >= c).

    Computed through the Erlang-B recursion B(k) = a B(k-1) / (k + a B(k-1)), which is stable
    for hundreds of servers, then C = c B / (c - a (1 - B)).
    """
    if servers <= 0 or offered_load >= servers:
        return 1.0
    if offered_load <= 0:
        return 0.0
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    return servers * b / (servers - offered_load * (1.0 - b))


def mean_wait(servers: int, arrival_rate: float, service_time: float) -> float:
    """Mean time in queue W_q = C / (c mu - lambda), in the unit of ``service_time``;
    infinite when unstable. ``arrival_rate`` is per unit of ``service_time``."""
    a = arrival_rate * service_time
    if servers <= 0 or a >= servers:
        return math.inf
    mu = 1.0 / service_time
    return erlang_c(servers, a) / (servers * mu - arrival_rate)


def servers_needed(
    arrival_rate: float, service_time: float, target_wait: float, *, max_servers: int = 500
) -> int:
    """The fewest servers whose mean wait is at most ``target_wait`` (same time unit)."""
    if arrival_rate <= 0:
        return 0
    c = max(1, math.floor(arrival_rate * service_time) + 1)  # the smallest stable count
    while c < max_servers and mean_wait(c, arrival_rate, service_time) > target_wait:
        c += 1
    return c


def service_level(
    servers: int, arrival_rate: float, service_time: float, target_wait: float
) -> float:
    """P(wait <= target_wait) in M/M/c: 1 - C(c, a) exp(-(c mu - lambda) t); 0.0 when unstable
    (the queue grows without bound). Rates and times in one unit, as ``mean_wait``."""
    if arrival_rate <= 0:
        return 1.0
    a = arrival_rate * service_time
    if servers <= 0 or a >= servers:
        return 0.0
    mu = 1.0 / service_time
    return 1.0 - erlang_c(servers, a) * math.exp(-(servers * mu - arrival_rate) * target_wait)


def servers_for_service_level(
    arrival_rate: float,
    service_time: float,
    target_wait: float,
    level: float,
    *,
    max_servers: int = 500,
) -> int:
    """The fewest servers that serve at least ``level`` of arrivals within ``target_wait``
    (e.g. 80% within 15 minutes); 0 without arrivals, ``max_servers`` at most."""
    if arrival_rate <= 0 or service_time <= 0:
        return 0
    c = max(1, math.floor(arrival_rate * service_time) + 1)  # the smallest stable count
    while c < max_servers and service_level(c, arrival_rate, service_time, target_wait) < level:
        c += 1
    return c
