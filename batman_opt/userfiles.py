"""Bytes of a user's text file (campaign YAML, CSV sheet) decoded as UTF-8, or one InputError line
naming what the file holds instead: gzip or zip data, UTF-16 text, binary data, another encoding."""

from __future__ import annotations

from pathlib import Path

from batman_opt.errors import BatmanError, InputError

_SIGNATURES = {
    b"\x1f\x8b": "gzip-compressed data (decompress it first)",
    b"PK\x03\x04": "a zip archive (an .xlsx workbook?)",
    b"\xff\xfe": "UTF-16 text",
    b"\xfe\xff": "UTF-16 text",
    b"PAR1": "Parquet data",
    b"\x93NUMPY": "a NumPy array",
}


def user_text(path: Path, data: bytes, save_as: str, error: type[BatmanError] = InputError) -> str:
    """`data` (the content of `path`) as text; `error` naming the problem and how to save the file
    (`save_as`, e.g. "UTF-8 text") otherwise."""
    for signature, kind in _SIGNATURES.items():
        if data.startswith(signature):
            raise error(f"{path}: holds {kind}, not text; save it as {save_as}")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise error(f"{path}:{line}: holds binary data (a NUL byte), not text; save it as {save_as}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            f"save it as {save_as}"
        ) from None
