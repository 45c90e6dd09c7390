"""Spatial maths and candidate search.

Pure modules (no I/O; a clock or time is passed in where one is needed):

* :mod:`geo.distance`: haversine distance, the :class:`~geo.distance.SpeedModel`
  seam for ETAs, and which of a provider's positions counts (live if fresh, else base).
* :mod:`geo.ranking`: weights and per-client overrides, the per-provider facts, the
  score with its breakdown and upper bound, the price of a job from a price table.
* :mod:`geo.topn`: the exact top-N search by expanding H3 rings with an upper bound,
  and the brute-force reference it is tested against.
* :mod:`geo.search`: the search over the in-memory provider catalogue
  (:mod:`geo.catalogue`), cells read best first.
* :mod:`geo.addresses`: the address sources of jobs (Google Maps links, the Brazil
  check, the geocoder seam with its offline and Nominatim adapters); docs/addresses.md.
* :mod:`geo.errors`: the package's exception tree.

:mod:`geo.source` joins the catalogue with the live positions in Redis. ``geo`` may
import ``registry`` (models, and its pure validation and point helpers) and nothing
else of ours. How ranking and the search work: docs/geo.md.
"""
