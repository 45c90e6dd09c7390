"""Bulk import of a client's beneficiaries, vehicles and plans from CSV.

``POST /api/v1/clients/{client_id}/imports?mode=all_or_nothing|valid_rows`` with the
CSV file as the raw request body (``text/csv``). The answer is the import report
(200) whether or not rows were written (``written``); a file that cannot be read at
all (:class:`~registry.importing.ImportFileError`) answers 422 with a stable code,
through the API's error table, about the field ``file``. The format is in
docs/import.md.
"""

from __future__ import annotations

from registry.audit import record
from registry.enums import AuditAction
from registry.importing import (
    ImportFileError,
    ImportLimits,
    ImportMode,
    ImportReport,
    import_beneficiaries,
)
from registry.permissions import Permission
from registry.schemas.common import InModel
from server.api.core import BodyKind, Ctx, Operation
from server.settings import Settings

P = Permission


class ImportQuery(InModel):
    mode: ImportMode = ImportMode.ALL_OR_NOTHING


def limits(settings: Settings) -> ImportLimits:
    return ImportLimits(
        max_file_bytes=settings.import_max_bytes,
        max_rows=settings.import_max_rows,
        batch_size=settings.import_batch_size,
    )


async def _audit(ctx: Ctx, client_id: int, report: ImportReport) -> None:
    counts = {
        name: [None, getattr(report, name)]
        for name in (
            "total_rows",
            "beneficiaries_created",
            "beneficiaries_updated",
            "vehicles_created",
            "vehicles_updated",
            "plans_linked",
            "error_count",
        )
    }
    await record(
        ctx.session,
        ctx.actor,
        "beneficiary_import",
        client_id,
        AuditAction.CREATE,
        counts,
        ("client", client_id),
    )


async def import_csv(ctx: Ctx) -> ImportReport:
    client_id = int(ctx.path["client_id"])
    report = await import_beneficiaries(
        ctx.session,
        client_id,
        ctx.request.stream(),
        ctx.query.mode,
        limits=limits(ctx.resources.settings),
    )
    if report.written:
        await _audit(ctx, client_id, report)
    return report


OPERATIONS = [
    Operation(
        "POST",
        "/clients/{client_id:int}/imports",
        import_csv,
        "Import beneficiaries, vehicles and plans from CSV",
        "clients",
        permission=P.BENEFICIARIES_CREATE,
        query=ImportQuery,
        body_kind=BodyKind.RAW,
        response=ImportReport,
        raw_content_types=("text/csv",),
        # A file that cannot be read at all: 422 with its own code (the error
        # table), about the request's body, the CSV file.
        blame={ImportFileError: "file"},
    ),
]
