"""Attached files: stored once by content hash, with a size limit and a check that
the bytes are what their content type says.

Storage layout: ``<files_dir>/<aa>/<bb>/<sha256>`` where ``aa`` and ``bb`` are the
first two byte pairs of the hash. A file is written to ``<files_dir>/tmp`` while it
is hashed, then renamed into place, so a half-written upload is never visible.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from registry.errors import ValidationError

SNIFF_BYTES = 512
# Declared content type → a check of the first bytes.
ALLOWED_TYPES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/zip": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "text/plain": (),
    "text/csv": (),
}


@dataclass(frozen=True, slots=True)
class StoredFile:
    sha256: str
    size: int
    content_type: str


def check_content(content_type: str, head: bytes) -> None:
    """Raises ValidationError unless ``head`` looks like ``content_type``."""
    if content_type not in ALLOWED_TYPES:
        raise ValidationError("content_type", f"Tipo de arquivo não aceito: {content_type}")
    magics = ALLOWED_TYPES[content_type]
    if magics and not any(head.startswith(magic) for magic in magics):
        raise ValidationError("content_type", "O conteúdo do arquivo não corresponde ao tipo")
    if content_type == "image/webp" and head[8:12] != b"WEBP":
        raise ValidationError("content_type", "O conteúdo do arquivo não corresponde ao tipo")
    if not magics and b"\x00" in head:
        raise ValidationError("content_type", "Arquivo de texto com conteúdo binário")


def path_of(files_dir: Path, sha256: str) -> Path:
    return files_dir / sha256[:2] / sha256[2:4] / sha256


async def store(
    files_dir: Path, content_type: str, chunks: AsyncIterator[bytes], max_bytes: int
) -> StoredFile:
    """Stream an upload to disk, checking its size and type; returns where it went.

    Raises:
        ValidationError: empty, larger than ``max_bytes``, or not of its type.
    """
    tmp_dir = files_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    digest, size, head = hashlib.sha256(), 0, b""
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ValidationError("file", f"Arquivo maior que {max_bytes} bytes")
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationError("file", "Arquivo vazio")
        check_content(content_type, head)
        sha = digest.hexdigest()
        final = path_of(files_dir, sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_name, final)
        return StoredFile(sha, size, content_type)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
