""" "One service" bundles: the items citizens request together, in time (one applicant within a
window) or in place (one location key within a short window, anyone).

One module per concern, each a pure DataFrame transform (mlxtend-style layout):

- ``baskets``: applications -> baskets (``citizen`` and ``place`` scopes), segment tokens.
- ``guard``: an upper bound on the frequent itemsets, checked before mining.
- ``fpgrowth``: frequent itemsets with ``pyspark.ml.fpm.FPGrowth`` at a minimum count.
- ``metrics``: rule metrics (mlxtend's), the basket-size null model, p-values, BH q-values.
- ``select``: significance, productivity over sub-bundles, redundancy pruning, segments.
- ``profile``: what analysts need per bundle (visits saved, order, span, channels).
- ``changes``: comparison with the previous period.
- ``stage``: the pipeline stage and ``mine_bundles`` (the only module that reads or writes).

The method is described in docs/methodology-bundles.md.
"""

from __future__ import annotations

from visitonce.bundles.guard import ItemsetExplosionError

__all__ = ["ItemsetExplosionError"]
