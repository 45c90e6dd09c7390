"""Errors of the registry package (Negócio).

::

    RegistryError                 base of every registry error
    ├── ValidationError           a value is malformed; carries ``field`` and a pt-BR
    │                             ``message`` fit to show to users (also a ValueError)
    ├── NotFound                  a referenced record does not exist (unknown role,
    │                             client, plan...)
    ├── Conflict                  the change collides with existing data (duplicate
    │   │                         natural key)
    │   └── InUse                 a record cannot be deleted: other records refer
    │                             to it
    └── ProviderBlocked           a blocked provider's user signs in (pt-BR message)

The server maps them to API errors: ``ValidationError`` to 422 with the field,
``NotFound`` to 404, ``Conflict`` to 409 (``in_use`` for ``InUse``),
``ProviderBlocked`` to 403 (``provider_blocked``); any other to 400 with its message.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base of every error raised by the registry package."""


class ValidationError(RegistryError, ValueError):
    """A value failed validation.

    Attributes:
        field: the name of the offending field (API / code name, English).
        message: what is wrong, in pt-BR, ready to show to the user.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(RegistryError):  # noqa: N818  (the name reads as the HTTP status)
    """A record that the operation refers to does not exist."""


class Conflict(RegistryError):  # noqa: N818
    """The operation would duplicate or break existing data."""


class InUse(Conflict):
    """A record cannot be deleted while other records refer to it."""

    def __init__(self) -> None:
        super().__init__("O registro está em uso e não pode ser excluído.")


class ProviderBlocked(RegistryError):  # noqa: N818
    """The user's provider is blocked in the registry: it may not sign in."""

    def __init__(self) -> None:
        super().__init__("Prestador bloqueado: fale com a central para voltar a ser acionado.")
