"""Spatial maths and candidate search.

Pure modules (no I/O; a clock or time is passed in where one is needed):

* :mod:`geo.distance`: haversine distance, the :class:`~geo.distance.SpeedModel`
  seam for ETAs, and which of a provider's positions counts (live if fresh, else base).
* :mod:`geo.ranking`: weights and per-client overrides, the per-provider facts, the
  score with its breakdown and upper bound, the price of a job from a price table.
* :mod:`geo.topn`: the exact top-N search by expanding H3 rings with an upper bound,
  and the brute-force reference it is tested against.
* :mod:`geo.errors`: the package's exception tree.

The candidate sources that read PostgreSQL/PostGIS and Redis plug into
:class:`geo.topn.RingSearch`. ``geo`` may import ``registry`` models and nothing else
of ours. How ranking and the search work: docs/geo.md.
"""
