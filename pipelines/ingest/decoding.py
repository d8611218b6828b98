"""Bytes → physical lines of text, whatever encoding (or mixture) an export arrives in.

UTF-16 by its BOM (or by its NUL bytes), UTF-8 when the whole file is, else line by line:
UTF-8 where a line is, else Windows-1251 (Russian Excel's encoding), else the line cannot
be read and its record is quarantined. So a file that mixes both (two exports pasted
together) keeps every name readable instead of turning `Наталья` into `РќР°С‚Р°Р»СЊСЏ`.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK = 1 << 24
_NUL_SHARE_UTF16 = 0.3


def file_head(path: Path, size: int = 4) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


@dataclass(frozen=True)
class Decoded:
    lines: list[str]
    """Physical lines without their line ends; `lines[0]` is line 1."""
    encoding: str
    bad_lines: frozenset[int]
    """1-based physical lines that are not text: neither UTF-8 nor Windows-1251, or
    holding a NUL byte."""


def decode(data: bytes) -> Decoded:
    """Bytes → physical lines: UTF-16 by its BOM (or by its NUL bytes), UTF-8 when the whole
    file is, else line by line UTF-8 or Windows-1251, else a line that cannot be read.

    A line ends at LF, CRLF or a lone CR, whatever mixture a file has; a byte-order mark
    inside the text (two exports pasted together) is dropped, not kept in a field."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(data):
        return _decode_utf16(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    else:
        encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
        lines = split_lines(text)
        return Decoded(lines, encoding, _nul_lines(lines))
    lines: list[str] = []
    bad: set[int] = set()
    kinds: set[str] = set()
    one_ending = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    for number, chunk in enumerate(_physical(one_ending.split(b"\n")), start=1):
        try:
            lines.append(chunk.decode("utf-8-sig" if number == 1 else "utf-8"))
            if not chunk.isascii():
                kinds.add("utf-8")
        except UnicodeDecodeError:
            try:
                lines.append(chunk.decode("cp1251"))
                kinds.add("cp1251")
            except UnicodeDecodeError:
                lines.append(chunk.decode("cp1251", errors="replace"))
                bad.add(number)
    encoding = "+".join(sorted(kinds)) or "cp1251"
    if bad:
        encoding += " (undecodable lines)"
    lines = [line.replace("\ufeff", "") for line in lines]
    return Decoded(lines, encoding, frozenset(bad) | _nul_lines(lines))


def _nul_lines(lines: list[str]) -> frozenset[int]:
    return frozenset(i for i, line in enumerate(lines, start=1) if "\x00" in line)


def _looks_utf16(data: bytes) -> bool:
    head = data[:4096]
    return len(head) >= 4 and head.count(0) / len(head) > _NUL_SHARE_UTF16


def _decode_utf16(data: bytes) -> Decoded:
    if data.startswith(codecs.BOM_UTF16_BE):
        codec, body = "utf-16-be", data[2:]
    elif data.startswith(codecs.BOM_UTF16_LE):
        codec, body = "utf-16-le", data[2:]
    else:  # no BOM: the NUL bytes sit in the high half of each ASCII character
        codec = "utf-16-le" if data[1:200:2].count(0) >= data[0:200:2].count(0) else "utf-16-be"
        body = data
    try:
        lines = split_lines(body.decode(codec))
        return Decoded(lines, "utf-16", _nul_lines(lines))
    except UnicodeDecodeError:
        lines = split_lines(body.decode(codec, errors="replace"))
        bad = frozenset(i for i, line in enumerate(lines, start=1) if "\ufffd" in line)
        return Decoded(lines, "utf-16 (undecodable lines)", bad | _nul_lines(lines))


def split_lines(text: str) -> list[str]:
    """Physical lines: LF, CRLF and a lone CR each end one; byte-order marks dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    return _physical(text.split("\n"))


def _physical(parts: list[Any]) -> list[Any]:
    """Pieces of a split on line ends → physical lines: a final line end ends the last
    line, it does not start an empty one."""
    return parts[:-1] if len(parts) > 1 and not parts[-1] else parts


_NOT_PLAIN = re.compile(rb"\x00|\r(?!\n)|\xef\xbb\xbf")


def is_plain_utf8(path: Path) -> bool:
    """Valid UTF-8 with nothing DuckDB's reader would keep that we would not: no NUL, no
    lone CR line end, no byte-order mark but at the very start."""
    if file_head(path).startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            first = True
            while chunk := handle.read(CHUNK):
                if _NOT_PLAIN.search(chunk, 3 if first else 0):
                    return False
                first = False
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
