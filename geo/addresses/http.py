"""A minimal HTTP GET over asyncio streams, for the Nominatim geocoder.

Acionar has no HTTP client among its runtime dependencies, and one JSON GET does
not need one: this sends an HTTP/1.0 request (so the reply is never chunked and
ends when the server closes), reads the status line and headers within bounds, then
the body up to :data:`MAX_RESPONSE_BYTES`. Everything runs on the event loop inside
one ``asyncio.timeout``: cancelling the caller cancels the request, and the
connection is closed however the call ends. Redirects are not followed: configure
the server's final URL.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from geo.addresses.errors import GeocoderUnavailableError

log = logging.getLogger("acionar.geo.http")

MAX_RESPONSE_BYTES = 1_048_576
"""Largest reply body read; a bigger one is a failure."""
MAX_HEADER_LINES = 100
"""Most header lines read from a reply."""
MAX_LINE_BYTES = 8_192
"""Longest status or header line (the stream reader's limit)."""
READ_CHUNK_BYTES = 65_536


class _ReplyError(Exception):
    """A reply that cannot be used (a status other than 200, a malformed or oversized
    reply); :func:`http_get` turns it into the caller's error."""


async def http_get(
    url: str,
    headers: Mapping[str, str],
    timeout_s: float,
    unavailable: GeocoderUnavailableError,
) -> bytes:
    """The body of a 200 reply to ``GET url``, within ``timeout_s`` in all.

    Raises:
        GeocoderUnavailableError: ``unavailable``, from the underlying failure.
    """
    try:
        async with asyncio.timeout(timeout_s):
            return await _exchange(url, headers)
    except (TimeoutError, OSError, _ReplyError, ValueError, asyncio.IncompleteReadError) as exc:
        log.warning("GET %s failed: %r", url.split("?")[0], exc)
        raise unavailable from exc


async def _exchange(url: str, headers: Mapping[str, str]) -> bytes:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _ReplyError(f"not an http(s) URL: {url!r}")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    context = ssl.create_default_context() if secure else None
    reader, writer = await asyncio.open_connection(
        parts.hostname, port, ssl=context, limit=MAX_LINE_BYTES
    )
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        lines = [f"GET {target} HTTP/1.0", f"Host: {parts.netloc}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        await _read_head(reader)
        return await _read_body(reader)
    finally:
        writer.close()


async def _read_head(reader: asyncio.StreamReader) -> None:
    status = (await reader.readline()).decode("latin-1").split()
    if len(status) < 2 or not status[0].startswith("HTTP/") or status[1] != "200":
        raise _ReplyError(f"unexpected status line {' '.join(status)[:80]!r}")
    for _ in range(MAX_HEADER_LINES):
        if (await reader.readline()) in (b"\r\n", b"\n", b""):
            return
    raise _ReplyError("too many header lines")


async def _read_body(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await reader.read(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _ReplyError(f"reply over {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
