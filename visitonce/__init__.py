"""visitonce: analytics engine for digitized government service logs ("Visit Once")."""

__version__ = "0.1.0"
