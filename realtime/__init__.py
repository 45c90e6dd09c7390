"""Realtime: the websocket protocols and their live data, knowing nothing of the business.

This package imports only the standard library, orjson and installed third-party
libraries; never ``registry``, ``operations``, ``geo`` or ``server`` (a test checks).

The pure core (no I/O, clocks passed in):

* :mod:`realtime.protocol`: the provider websocket protocol v1 (``docs/protocol.md``):
  constants, close and error codes, message classes, :func:`parse_client_frame`;
* :mod:`realtime.session`: :class:`ProviderConnection`, one connection's state machine
  returning :mod:`realtime.actions` for the I/O layer to execute;
* :mod:`realtime.filter`: :class:`PositionFilter`, which fixes may move a provider;
* :mod:`realtime.ratelimit`, :mod:`realtime.geodesy`: a token bucket, distances;
* :mod:`realtime.errors`: the package's exception tree.
"""
