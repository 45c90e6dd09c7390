"""Attachments (Arquivos) of clients, beneficiaries and providers.

Upload: ``POST /api/v1/{owner}/{id}/files?filename=NAME`` with the file as the raw
body and its ``Content-Type``. Download: ``GET /api/v1/files/{id}`` (authorised like
the owner record). The bytes are stored by content hash (registry.files).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.responses import FileResponse

from registry import models as m
from registry.crud import create_row, delete_row
from registry.files import ALLOWED_TYPES, path_of, store
from registry.permissions import Permission
from registry.schemas.common import InModel
from server.api.core import Access, BodyKind, Ctx, Operation
from server.api.errors import ApiError, not_found

P = Permission

# owner kind → (model, path segment, pt-BR title, portal column, edit permission)
OWNERS: dict[str, tuple[type[Any], str, str, str | None, P]] = {
    "client": (m.Client, "clients", "Cliente", "id", P.REGISTRY_EDIT),
    "beneficiary": (
        m.Beneficiary,
        "beneficiaries",
        "Beneficiário",
        "client_id",
        P.BENEFICIARIES_EDIT,
    ),
    "provider": (m.Provider, "providers", "Prestador", None, P.PROVIDERS_EDIT),
}
SAFE_NAME = r"^[^/\\\x00-\x1f]{1,200}$"


class UploadQuery(InModel):
    filename: Annotated[str, Field(pattern=SAFE_NAME)]


class AttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_kind: str
    owner_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


async def _owner(ctx: Ctx, kind: str, owner_id: int) -> Any:
    model, _, title, portal_column, _ = OWNERS[kind]
    row = await ctx.session.get(model, owner_id)
    principal = ctx.user
    if row is None or (
        principal.is_client_user
        # a client-portal user sees only its own client's records, never a provider's
        and (portal_column is None or getattr(row, portal_column) != principal.client_id)
    ):
        raise not_found(title)
    return row


def _ops(kind: str) -> list[Operation]:
    _, segment, title, portal_column, edit = OWNERS[kind]
    path = f"/{segment}/{{item_id:int}}/files"
    read = Access.PORTAL if portal_column else Access.PERMISSION

    async def upload(ctx: Ctx) -> AttachmentOut:
        owner = await _owner(ctx, kind, ctx.path["item_id"])
        content_type = ctx.request.headers.get("content-type", "").split(";")[0].strip()
        settings = ctx.resources.settings
        stored = await store(
            settings.files_path, content_type, ctx.request.stream(), settings.files_max_bytes
        )
        row = await create_row(
            ctx.session,
            ctx.actor,
            "attachment",
            m.Attachment,
            {
                "owner_kind": kind,
                "owner_id": owner.id,
                "filename": ctx.query.filename,
                "content_type": stored.content_type,
                "size": stored.size,
                "sha256": stored.sha256,
                "uploaded_by": ctx.user.user_id,
            },
            (kind, owner.id),
        )
        return AttachmentOut.model_validate(row)

    async def list_(ctx: Ctx) -> list[AttachmentOut]:
        owner = await _owner(ctx, kind, ctx.path["item_id"])
        rows = await ctx.session.scalars(
            select(m.Attachment)
            .where(m.Attachment.owner_kind == kind, m.Attachment.owner_id == owner.id)
            .order_by(m.Attachment.id)
        )
        return [AttachmentOut.model_validate(row) for row in rows]

    return [
        Operation(
            "POST",
            path,
            upload,
            f"Attach a file: {title}",
            segment,
            permission=edit,
            query=UploadQuery,
            body_kind=BodyKind.RAW,
            response=AttachmentOut,
            status=201,
            raw_content_types=tuple(_accepted()),
        ),
        Operation(
            "GET",
            path,
            list_,
            f"List files: {title}",
            segment,
            read,
            P.REGISTRY_VIEW,
            response=list[AttachmentOut],
        ),
    ]


def _accepted() -> list[str]:
    return sorted(ALLOWED_TYPES)


async def _attachment(ctx: Ctx) -> m.Attachment:
    row = await ctx.session.get(m.Attachment, ctx.path["file_id"])
    if row is None:
        raise not_found("Arquivo")
    await _owner(ctx, row.owner_kind, row.owner_id)
    return row


async def download(ctx: Ctx) -> FileResponse:
    row = await _attachment(ctx)
    path = path_of(ctx.resources.settings.files_path, row.sha256)
    if not path.is_file():
        raise ApiError(410, "gone", "O conteúdo deste arquivo não está mais disponível.")
    return FileResponse(
        path,
        media_type=row.content_type,
        filename=row.filename,
        content_disposition_type="attachment",
    )


async def remove(ctx: Ctx) -> None:
    row = await _attachment(ctx)
    edit = OWNERS[row.owner_kind][4]
    if not ctx.user.can(edit):
        raise ApiError(403, "forbidden", "Seu perfil não permite esta ação.")
    await delete_row(ctx.session, ctx.actor, "attachment", row, (row.owner_kind, row.owner_id))


OPERATIONS = [
    *(op for kind in OWNERS for op in _ops(kind)),
    Operation(
        "GET",
        "/files/{file_id:int}",
        download,
        "Download a file",
        "files",
        Access.PORTAL,
        P.REGISTRY_VIEW,
    ),
    Operation(
        "DELETE", "/files/{file_id:int}", remove, "Delete a file", "files", Access.USER, status=204
    ),
]
