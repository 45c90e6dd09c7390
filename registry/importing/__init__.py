"""CSV import of a client's beneficiaries with their vehicles and plans
(Negócio > Cliente > Contratos: "importar contratos").

* :func:`import_beneficiaries`: the async loader (stream in, report out).
* :class:`CsvImportParser`: the pure parser and validator underneath it.
* :class:`ImportReport`, :class:`RowError`, :class:`ImportMode`: what callers see.
* :class:`ImportLimits`: the bounds; :class:`ImportFileError`: a file refused whole.

The CSV format, the modes and the limits are documented in ``docs/import.md``.
"""

from registry.importing.errors import ImportFileError
from registry.importing.limits import DEFAULT_LIMITS, ImportLimits
from registry.importing.loader import import_beneficiaries
from registry.importing.parser import CsvImportParser
from registry.importing.report import ImportMode, ImportReport, RowError
from registry.importing.rows import ImportRow, PlanCatalogue, PlanLink, PlanRef

__all__ = [
    "DEFAULT_LIMITS",
    "CsvImportParser",
    "ImportFileError",
    "ImportLimits",
    "ImportMode",
    "ImportReport",
    "ImportRow",
    "PlanCatalogue",
    "PlanLink",
    "PlanRef",
    "RowError",
    "import_beneficiaries",
]
