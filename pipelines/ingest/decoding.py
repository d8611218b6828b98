"""Bytes → physical lines of text, whatever encoding (or mixture) an export arrives in.

UTF-16 by its BOM (or by its NUL bytes), UTF-8 when the whole file is, else line by line:
UTF-8 where a line is, else Windows-1251 (Russian Excel's encoding), else the line cannot
be read and its record is quarantined. So a file that mixes both (two exports pasted
together) keeps every name readable instead of turning `Наталья` into `РќР°С‚Р°Р»СЊСЏ`.
"""

from __future__ import annotations

import codecs
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
    """1-based physical lines that are neither UTF-8 nor Windows-1251 text."""


def decode(data: bytes) -> Decoded:
    """Bytes → physical lines: UTF-16 by its BOM (or by its NUL bytes), UTF-8 when the whole
    file is, else line by line UTF-8 or Windows-1251, else a line that cannot be read."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(data):
        return _decode_utf16(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    else:
        encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
        return Decoded(split_lines(text), encoding, frozenset())
    lines: list[str] = []
    bad: set[int] = set()
    kinds: set[str] = set()
    for number, chunk in enumerate(_physical(data.split(b"\n")), start=1):
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
    return Decoded([line.removesuffix("\r") for line in lines], encoding, frozenset(bad))


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
        return Decoded(split_lines(body.decode(codec)), "utf-16", frozenset())
    except UnicodeDecodeError:
        lines = split_lines(body.decode(codec, errors="replace"))
        bad = frozenset(i for i, line in enumerate(lines, start=1) if "\ufffd" in line)
        return Decoded(lines, "utf-16 (undecodable lines)", bad)


def split_lines(text: str) -> list[str]:
    """Physical lines; `\\r\\n` and `\\n` end a line (a file of bare `\\r` ends too)."""
    if "\n" not in text and "\r" in text:
        text = text.replace("\r", "\n")
    return [line.removesuffix("\r") for line in _physical(text.split("\n"))]


def _physical(parts: list[Any]) -> list[Any]:
    """Pieces of a split on line ends → physical lines: a final line end ends the last
    line, it does not start an empty one."""
    return parts[:-1] if len(parts) > 1 and not parts[-1] else parts


def is_utf8(path: Path) -> bool:
    head = file_head(path)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                if b"\x00" in chunk:
                    return False
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
