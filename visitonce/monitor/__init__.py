"""Live monitoring: windowed metrics, seasonal robust baselines with CUSUM, merged alerts with
proposals computed from the data (Erlang-C staffing, idle desks, extended hours, online
steering). Modules: ``erlang``, ``metrics``, ``detect``, ``proposals``, ``stage``."""
