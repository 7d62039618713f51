"""Lagged points: workload-adjusted expectations and fair flags, from the step facts.

Modules: ``adjust`` (workload covariates and the within-item-step adjustment), ``flags`` (the
history, places, rule and peer comparisons, tests, flags), ``transitions`` (per-transition
duration statistics, pm4py's performance DFG), ``stage`` (the pipeline stage). The step facts
they read (waiting, processing, hand-off and response per step) are ``visitonce.facts``, in
working time by ``visitonce.worktime``.
"""
