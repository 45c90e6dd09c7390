"""Imports every module that defines models, so that ``Base.metadata`` is complete."""

from __future__ import annotations

import registry.models  # noqa: F401
