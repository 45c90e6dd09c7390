"""Bytes to CSV records (pure, sans-I/O): decoding and physical lines.

:class:`RecordSplitter` is fed the file's bytes in chunks of any size and returns
complete records, each with the physical line it starts on. A record is one line,
or several when a quoted field holds line breaks: a record ends at the first line
break where the count of ``"`` so far is even (RFC 4180 doubles quotes inside
quoted fields, so the parity tells whether a quote is open). Splitting costs time
linear in the text whatever the chunk sizes, and a record fails ``line_too_long``
in the chunk that takes it past the limit, without waiting for its line break.

Encoding: a UTF-16 byte-order mark means UTF-16; otherwise UTF-8 is assumed
(after its byte-order mark, if any), and if the bytes turn out not to be UTF-8
while everything decoded so far was ASCII, the rest is decoded as Windows-1252
(which Excel in Portuguese writes, and which covers Latin-1's letters; some tools
put a UTF-8 mark before it too). A file that mixes both is refused rather than
garbled. Line breaks may be ``\\r\\n``, ``\\n`` or ``\\r``.
"""

from __future__ import annotations

import codecs
import re
from typing import NoReturn

from registry.importing.errors import ImportFileError

# Only the break itself: finditer then costs one step per character. A pattern that
# matches the line before the break (``[^\r\n]*\n``) rescans the rest of the text
# from every start position when no break follows: quadratic on one long line.
_BREAK = re.compile(r"\r\n|\r|\n")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (b"\xfe\xff", "utf-16"))
_ZIP = b"PK\x03\x04"  # .xlsx and .ods are zip files
_HEAD = 4  # bytes needed to recognise a byte-order mark or a zip file
FALLBACK = "cp1252"
# A UTF-8 accented Latin letter (é is C3 A9). In Windows-1252 text these bytes read
# "Ã" and a symbol, which no name or address holds: their presence means the file
# mixes encodings, and decoding it either way would garble some of it.
_UTF8_LETTER = re.compile(rb"\xc3[\x80-\xbf]")
MIXED = "o arquivo mistura codificações (UTF-8 e Windows-1252): salve-o de novo como CSV UTF-8"


class Decoder:
    """Incremental bytes → text, choosing the encoding as described above."""

    def __init__(self) -> None:
        self.encoding = ""
        self._head = b""
        self._decoder: codecs.IncrementalDecoder | None = None
        self._ascii = True
        self.breaks_before_error = 0  # line breaks in the failing bytes before the fault

    def decode(self, data: bytes, final: bool = False) -> str:
        """The text of ``data`` (some bytes may wait for the next call).

        Raises:
            ImportFileError: not text in a supported encoding (``bad_encoding``),
                or a spreadsheet file rather than a CSV (``not_csv``).
        """
        if self._decoder is None:
            self._head += data
            if len(self._head) < _HEAD and not final:
                return ""
            data, self._head = self._start(self._head), b""
        text = self._decode(data, final)
        if "\x00" in text and self.encoding != "utf-16":
            raise ImportFileError("not_csv", "o arquivo não é um CSV de texto")
        self._ascii = self._ascii and text.isascii()
        return text

    def _start(self, head: bytes) -> bytes:
        """Choose the decoder from the first bytes; what of them is left to decode."""
        if head.startswith(_ZIP):
            raise ImportFileError(
                "not_csv", "o arquivo é uma planilha (.xlsx/.ods): exporte-a como CSV"
            )
        self.encoding = "utf-8"
        for bom, encoding in _BOMS:
            if head.startswith(bom):
                self.encoding = encoding
        if self.encoding == "utf-8-sig":
            head = head[len(codecs.BOM_UTF8) :]
        codec = "utf-8" if self.encoding == "utf-8-sig" else self.encoding
        self._decoder = codecs.getincrementaldecoder(codec)()
        return head

    def _decode(self, data: bytes, final: bool) -> str:
        assert self._decoder is not None
        if self.encoding == FALLBACK and (utf8 := _UTF8_LETTER.search(data)):
            self._refuse(data, utf8.start(), MIXED)
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            # The decoder still holds the bytes it held before this call: the
            # error's offsets count from them.
            pending, _ = self._decoder.getstate()
            return self._fall_back(pending + data, exc.start, final)

    def _fall_back(self, data: bytes, bad: int, final: bool) -> str:
        """Decode ``data`` and the rest of the file as Windows-1252, if that is safe."""
        if self.encoding == "utf-16" or self.encoding == FALLBACK:
            self._refuse(data, bad, f"o arquivo não é texto {self.encoding} válido")
        if not self._ascii or not data[:bad].isascii():
            self._refuse(data, bad, MIXED)
        if utf8 := _UTF8_LETTER.search(data):
            self._refuse(data, utf8.start(), MIXED)
        self.encoding = FALLBACK
        self._decoder = codecs.getincrementaldecoder(FALLBACK)()
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            self._refuse(data, exc.start, "codificação não reconhecida: salve o CSV como UTF-8")

    def _refuse(self, data: bytes, position: int, message: str) -> NoReturn:
        """Fail on the byte at ``position`` of ``data``."""
        self.breaks_before_error = data.count(b"\n", 0, position)
        raise ImportFileError("bad_encoding", message)


def _lines(text: str, scanned: int = 0) -> tuple[list[str], str]:
    """The complete lines of ``text``, each with its break, and what follows the last.

    ``scanned``: how many leading characters are known to hold no line break, so
    that a long line fed in many chunks is not searched again at every chunk.
    """
    lines: list[str] = []
    start = 0
    for found in _BREAK.finditer(text, scanned):
        lines.append(text[start : found.end()])
        start = found.end()
    return lines, text[start:]


Record = tuple[int, list[str]]  # (physical line it starts on, its lines with their breaks)


class RecordSplitter:
    """Bytes in, complete records out; counts physical lines.

    Attributes:
        line: the physical lines completed so far.
    """

    def __init__(self, max_line_chars: int) -> None:
        self.decoder = Decoder()
        self.line = 0
        self._max = max_line_chars
        # The text after the last line break, in the pieces it came in: a long line
        # is joined once, when its break comes, not copied again at every chunk. It
        # holds no break, but perhaps a held "\r" (maybe half a "\r\n") at its end.
        self._tail: list[str] = []
        self._tail_chars = 0
        self._lines: list[str] = []
        self._start = 0
        self._quotes = 0
        self._chars = 0

    def feed(self, data: bytes) -> list[Record]:
        """The records completed by ``data``.

        Raises:
            ImportFileError: a record longer than the limit (``line_too_long``), or
                from :meth:`Decoder.decode`.
        """
        return self._split(self._text(data, final=False), final=False)

    def close(self) -> list[Record]:
        """The last records, at the end of the file.

        Raises:
            ImportFileError: a quoted field is never closed (``unclosed_quote``).
        """
        records = self._split(self._text(b"", final=True), final=True)
        if self._lines:
            raise ImportFileError(
                "unclosed_quote",
                f"aspas abertas na linha {self._start} não são fechadas até o fim do arquivo",
                self._start,
            )
        return records

    def _text(self, data: bytes, final: bool) -> str:
        try:
            return self.decoder.decode(data, final)
        except ImportFileError as exc:
            line = self.line + 1 + self.decoder.breaks_before_error
            raise ImportFileError(exc.code, f"linha {line}: {exc.message}", line) from exc

    def _split(self, text: str, final: bool) -> list[Record]:
        records: list[Record] = []
        held = bool(self._tail) and self._tail[-1].endswith("\r")
        if final or held or "\n" in text or "\r" in text:
            records = self._split_lines(text, final)
        else:  # the line goes on
            self._tail.append(text)
            self._tail_chars += len(text)
        if self._chars + self._tail_chars > self._max:
            self._too_long(self._start if self._lines else self.line + 1)
        return records

    def _split_lines(self, text: str, final: bool) -> list[Record]:
        tail = "".join(self._tail)
        scanned = len(tail.removesuffix("\r"))  # the tail's text holds no break
        buffer = tail + text
        hold = "\r" if buffer.endswith("\r") and not final else ""  # maybe half a \r\n
        buffer = buffer[: len(buffer) - len(hold)]
        lines, rest = _lines(buffer, scanned)
        if final and rest:
            lines.append(rest)
            rest = ""
        rest += hold
        self._tail, self._tail_chars = [rest] if rest else [], len(rest)
        return [record for line in lines if (record := self._add(line)) is not None]

    def _add(self, line: str) -> Record | None:
        """Add one physical line; the record it completes, if any."""
        self.line += 1
        if not self._lines:
            self._start, self._quotes, self._chars = self.line, 0, 0
        self._lines.append(line)
        self._quotes += line.count('"')
        self._chars += len(line)
        if self._chars > self._max:
            self._too_long(self._start)
        if self._quotes % 2:
            return None
        record, self._lines, self._chars = (self._start, self._lines), [], 0
        return record

    def _too_long(self, line: int) -> None:
        raise ImportFileError(
            "line_too_long",
            f"linha {line} longa demais (máximo {self._max} caracteres; aspas não fechadas?)",
            line,
        )
