"""Demand and resource planning: when, where and through which channel citizens come, and the
staffing, opening hours and channel shifts that follow (docs/methodology-demand.md)."""
