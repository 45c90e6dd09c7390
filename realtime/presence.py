"""How a provider can be reached now: the one vocabulary of presence (pure).

The live store (:mod:`realtime.store`) knows it from the provider's socket and web
portal marks; candidate search (``geo``) shows it, and dispatch offers a job only
over a channel the provider can take now.
"""

from __future__ import annotations

import enum


class Connectivity(enum.StrEnum):
    """How a provider can be reached now (shown to dispatchers, not scored)."""

    APP = "app"  # the GPS app is connected
    WEB = "web"  # the provider web portal is open
    OFFLINE = "offline"  # neither: reach by phone (verbal) or by a signed link
