"""Department scorecards for evaluation offices (issue 5; method in docs/methodology.md).

``kpis`` (counts per application and period) -> ``casemix`` (indirect standardization by item
characteristics) -> ``shrink`` (empirical Bayes, funnel status) -> ``composite`` (floors,
targets, pillars, gates, Monte Carlo bands) -> ``explain``; ``equity`` breaks every KPI down by
group. ``stage`` is the only module that reads and writes tables.
"""
