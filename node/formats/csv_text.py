"""A CSV file's bytes as text: encoding and delimiter detection, binary files refused as such.

Spreadsheets save "CSV" in many ways: UTF-8 with or without a BOM, UTF-16 (Excel's "Unicode text",
always with a BOM), Windows-1252 (older Excel on Windows), separated by commas, semicolons (European
locales, where the comma is the decimal mark) or tabs. A file that is not text at all (an .xlsx is a
zip, an .xls an OLE container) is refused as such, never "read as Windows-1252" into garbage rows.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}

# Signatures of files people pick by mistake instead of the CSV export (file(1)'s magic numbers).
_BINARY_MAGIC = (
    (b"PK\x03\x04", "a zip archive (an .xlsx or .ods spreadsheet is one)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)
BINARY_HINT = "this looks like a binary file (e.g. an .xlsx): save it as CSV (\"CSV UTF-8\" in Excel) and import that"


class CsvFileError(ValueError):
    """The file as a whole cannot be read as CSV text. ``code`` is stable for scripts."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class DecodedText:
    """The file's text and how it was read (``encoding`` is for the user: "UTF-8", "UTF-16 LE", ...)."""

    text: str
    encoding: str


def decode_csv_bytes(raw: bytes) -> DecodedText:
    """Decode by BOM, else strict UTF-8, else Windows-1252 — refusing binary content at every step."""
    for bom, codec, label in ((codecs.BOM_UTF8, "utf-8", "UTF-8 (with BOM)"),
                              (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"),
                              (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE")):
        if raw.startswith(bom):
            try:
                text = raw[len(bom):].decode(codec)
            except UnicodeDecodeError as exc:
                raise CsvFileError("csv_bad_encoding", f"the file starts with a {label} mark but is not valid {label} "
                                                       f"(byte {exc.start + len(bom)}): save it again as \"CSV UTF-8\"") from exc
            return DecodedText(_refuse_binary_text(text), label)
    for magic, what in _BINARY_MAGIC:
        if raw.startswith(magic):
            raise CsvFileError("csv_binary", f"this looks like a binary file ({what}), not CSV text: " + BINARY_HINT.split(": ", 1)[1])
    if b"\x00" in raw:
        raise CsvFileError("csv_binary", BINARY_HINT)
    try:
        return DecodedText(_refuse_binary_text(raw.decode("utf-8")), "UTF-8")
    except UnicodeDecodeError:
        pass
    try:
        # Only bytes that are not UTF-8 get here: older Excel on Windows saves "CSV" in Windows-1252.
        text = raw.decode("cp1252")
    except UnicodeDecodeError as exc:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are unassigned: not a Windows text file
        raise CsvFileError("csv_binary", BINARY_HINT) from exc
    return DecodedText(_refuse_binary_text(text), "Windows-1252")


def _refuse_binary_text(text: str) -> str:
    """Text full of control characters is a binary file that happened to decode."""
    controls = sum(1 for ch in text if (ch < " " and ch not in "\t\r\n\f") or ch == "\x7f" or ch == "\x00")
    if "\x00" in text or controls > max(2, len(text) // 100):
        raise CsvFileError("csv_binary", BINARY_HINT)
    return text


def sniff_delimiter(text: str) -> tuple[str, str]:
    """(delimiter, text without an Excel ``sep=`` line): the ``sep=X`` line if present, else the
    delimiter found most often outside quotes in the first non-blank line (the header); comma on a tie."""
    lines = text.split("\n")
    first_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first_index is None:
        return ",", text
    first = lines[first_index].rstrip("\r")
    if first.lower().startswith("sep=") and len(first) == 5 and first[4] in DELIMITERS:
        return first[4], "\n".join(lines[:first_index] + lines[first_index + 1:])
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in first:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return (best if counts[best] else ","), text
