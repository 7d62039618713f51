"""Lagged points: step timings, working time, workload-adjusted expectations and fair flags.

Modules: ``worktime`` (working seconds on a calendar), ``timings`` (waiting, processing,
hand-off and response per step), ``adjust`` (workload covariates and the within-item-step
adjustment), ``flags`` (peer expectations, tests, flags), ``transitions`` (per-transition
duration statistics, pm4py's performance DFG), ``stage`` (the pipeline stage).
"""
