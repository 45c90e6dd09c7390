"""Errors of the server package (the composition root).

::

    AcionarServerError
    ├── SettingsError          a setting could not be parsed or is out of range
    └── ServicesError          a local PostgreSQL or Redis instance could not be managed
        └── PackageInstallError    a Debian package it needs could not be installed
"""

from __future__ import annotations


class AcionarServerError(Exception):
    """Base of every error raised by the server package."""


class SettingsError(AcionarServerError):
    """One or more settings are invalid; ``problems`` lists each one."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


class ServicesError(AcionarServerError):
    """A local service could not be started, stopped or inspected."""


class PackageInstallError(ServicesError):
    """A Debian package needed by a local service could not be installed."""
