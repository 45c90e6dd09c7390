"""Imports every module that defines models, so that ``Base.metadata`` is complete."""

from __future__ import annotations

import operations.gateways.models
import operations.models  # noqa: F401
import registry.models  # noqa: F401
