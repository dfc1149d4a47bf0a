"""CSV files: encoding and delimiter detected, every cell read as text, rows streamed.

Encoding: the one a byte order mark names (UTF-8, UTF-16 or UTF-32, little- or
big-endian), else UTF-8 when the whole file decodes as UTF-8 (checked by streaming
it once, in constant memory), else Windows-1252; or the one given (--encoding). A
byte the encoding cannot decode refuses the file, naming its line. Delimiter: `,`
`;` tab or `|`, sniffed from the start of the file. Rows are numbered as a
spreadsheet shows them: the header is row 1.

Limits, checked while reading so that a file far beyond them is refused at once
(a million columns took minutes, whole, before): MAX_COLUMNS cells per row,
MAX_FIELD_CHARS per cell, MAX_ROW_CHARS per row (its lines together).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from app.exports.mednum import FIELDS as MEDNUM_COLUMNS
from app.formats.csv_cells import unescape_cell
from app.models.vocab import LOCATED_KINDS
from app.services.runs import Problem

from .geo import PositionError, check_lonlat, parse_number, parse_wkt_point, to_wgs84
from .mapping import CsvMapping, normalise_website
from .records import Candidate

DELIMITERS = ",;\t|"
# Columns only our CSV export has together (app/exports/tables.py's entries table).
OUR_CSV_COLUMNS = ("id", "slug", "kind", "name", "relations", "sources", "data_licence")
SAMPLE_BYTES = 64 * 1024
MAX_COLUMNS = 1000
MAX_FIELD_CHARS = 128 * 1024  # the csv module's own default limit, set explicitly
MAX_ROW_CHARS = 1 << 20
CHECK_BYTES = 1 << 20
# Longest first, so that UTF-32-LE's mark is not taken for UTF-16-LE's.
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"))
NUL_MESSAGE = ("the row holds a NUL character (byte 0x00), which the database cannot "
               "store")


class CsvFileError(ValueError):
    """The file as a whole cannot be read (header, encoding, a cut quoted field)."""


class _RowTooLong(Exception):
    """Raised from the line source, inside csv.reader: the row passed MAX_ROW_CHARS."""


def detect_encoding(path: Path, given: str | None = None) -> str:
    """The file's encoding: `given`, the one of its byte order mark, "utf-8" when every
    byte decodes as UTF-8, else "cp1252"; CsvFileError, naming the line, for a byte
    the encoding cannot decode."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if given:
        encoding = given
    else:
        encoding = next((name for bom, name in BOMS if head.startswith(bom)), None)
        if encoding is None and _looks_utf16(path):
            raise CsvFileError(
                f"{path}: the file looks like UTF-16 without a byte order mark; save it as "
                "UTF-8 (or give --encoding utf-16-le or utf-16-be)")
    if encoding is not None:
        bad = _undecodable(path, encoding)
        if bad is not None:
            _refuse(path, f"is not valid {encoding}", *bad)
        return encoding
    if _undecodable(path, "utf-8") is None:
        return "utf-8"
    bad = _undecodable(path, "cp1252")
    if bad is not None:
        _refuse(path, "is neither UTF-8 nor Windows-1252", *bad)
    return "cp1252"


def _looks_utf16(path: Path) -> bool:
    """Whether the start of the file has a NUL in every other byte (ASCII as UTF-16)."""
    with path.open("rb") as handle:
        sample = handle.read(4096)
    return len(sample) >= 4 and (sample[0::2].count(0) > len(sample) // 4
                                 or sample[1::2].count(0) > len(sample) // 4)


def _undecodable(path: Path, encoding: str) -> tuple[int, bytes] | None:
    """(line, bytes) of the first thing `encoding` cannot decode, else None. Streams the
    file once, in constant memory."""
    decoder = codecs.getincrementaldecoder(encoding)()
    newlines = 0
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(CHECK_BYTES)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                good = codecs.decode(exc.object[:exc.start], encoding, "replace")
                return newlines + good.count("\n") + 1, exc.object[exc.start:exc.end]
            if not chunk:
                return None
            newlines += text.count("\n")


def _refuse(path: Path, what: str, line: int, data: bytes) -> None:
    shown = " ".join(f"0x{b:02X}" for b in data[:4])
    if len(data) > 1:
        what = what.replace("is ", "are ", 1)
    raise CsvFileError(
        f"{path}: line {line}: the byte{'s' if len(data) > 1 else ''} {shown} {what}; "
        "save the file as UTF-8, or give "
        "its encoding with --encoding (e.g. --encoding latin-1)")


def sniff_delimiter(sample: str) -> str:
    """The delimiter of the header line: csv.Sniffer first, else the most frequent one."""
    header = sample.splitlines()[0] if sample else ""
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=DELIMITERS)
        if dialect.delimiter in header:
            return dialect.delimiter
    except csv.Error:
        pass
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class _CountingReader(io.RawIOBase):
    """Counts the bytes read, for a progress bar in bytes (the row count is unknown)."""

    def __init__(self, raw: IO[bytes], on_read: Callable[[int], None] | None) -> None:
        self.raw, self.on_read = raw, on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        if n and self.on_read:
            self.on_read(n)
        return n or 0

    def close(self) -> None:
        self.raw.close()
        super().close()


def iter_rows(path: Path | str, *, on_bytes: Callable[[int], None] | None = None,
              encoding: str | None = None
              ) -> Iterator[tuple[int, dict[str, str | None]] | list[str]]:
    """First the header (a list), then (row number, {column: text or None}) per row."""
    path = Path(path)
    if not path.is_file():
        raise CsvFileError(f"{path}: no such file")
    try:
        encoding = detect_encoding(path, encoding)
    except LookupError:
        raise CsvFileError(f"{path}: unknown encoding {encoding!r}") from None
    with path.open("rb") as raw:
        sample = raw.read(SAMPLE_BYTES).decode(encoding, errors="replace")
    delimiter = sniff_delimiter(sample)
    csv.field_size_limit(MAX_FIELD_CHARS)
    with path.open("rb") as raw:
        text = io.TextIOWrapper(io.BufferedReader(_CountingReader(raw, on_bytes)),
                                encoding=encoding, newline="")
        used = [0]  # characters of the row being read
        reader = csv.reader(_lines(text, used), delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise CsvFileError(f"{path}: the file is empty") from None
        except (csv.Error, _RowTooLong) as exc:
            raise CsvFileError(f"{path}: row 1 (line 1): {_reason(exc)}") from None
        if len(header) > MAX_COLUMNS:
            raise CsvFileError(f"{path}: row 1 (the header) has {len(header):,} columns; "
                               f"at most {MAX_COLUMNS:,} are read")
        header = [h.strip() for h in header]
        dupes = sorted(h for h, n in Counter(header).items() if n > 1)
        if dupes:
            raise CsvFileError(f"{path}: the header repeats {', '.join(dupes)}")
        yield header
        make_row = _unescaped_row_dict if is_our_export(header) else _row_dict
        row_number, line = 1, reader.line_num
        while True:
            used[0] = 0
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (csv.Error, _RowTooLong) as exc:
                if "unexpected end of data" in str(exc):
                    raise CsvFileError(
                        f"{path}: row {row_number + 1} (line {line + 1}): the file ends "
                        "inside a quoted field; it is probably cut short") from None
                raise CsvFileError(f"{path}: row {row_number + 1} (line {line + 1}): "
                                   f"{_reason(exc)}") from None
            row_number += 1
            if len(cells) > MAX_COLUMNS:
                raise CsvFileError(f"{path}: row {row_number} (line {line + 1}) has "
                                   f"{len(cells):,} cells; at most {MAX_COLUMNS:,} are read")
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            yield row_number, make_row(header, cells)


def _lines(text: IO[str], used: list[int]) -> Iterator[str]:
    """The lines of `text`, each read at most MAX_ROW_CHARS at a time; _RowTooLong once
    the row being read (`used`, reset by the caller per row) passes MAX_ROW_CHARS."""
    readline, limit = text.readline, MAX_ROW_CHARS + 1
    while line := readline(limit):
        used[0] += len(line)
        if used[0] > MAX_ROW_CHARS:
            raise _RowTooLong
        yield line


def _reason(exc: Exception) -> str:
    if isinstance(exc, _RowTooLong):
        return f"the row is longer than {MAX_ROW_CHARS >> 20} MiB; is the delimiter right?"
    if "field larger than field limit" in str(exc):
        return f"a cell is longer than {MAX_FIELD_CHARS:,} characters"
    return str(exc)


def _row_dict(header: list[str], cells: list[str]) -> dict[str, str | None]:
    row: dict[str, str | None] = {}
    for index, name in enumerate(header):
        value = cells[index].strip() if index < len(cells) else ""
        row[name] = value or None
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
        row["__extra_cells__"] = "|".join(cells[len(header):])
    return row


def is_our_export(header: list[str]) -> bool:
    """The header of our CSV export or of our mednum export, whose text cells went
    through `escape_cell` (the mednum schema's, which other tools may also quote so)."""
    return (set(OUR_CSV_COLUMNS) <= set(header)) or tuple(header) == MEDNUM_COLUMNS


def _unescaped_row_dict(header: list[str], cells: list[str]) -> dict[str, str | None]:
    return _row_dict(header, [unescape_cell(c) or "" for c in cells])


def check_header(path: Path | str, header: list[str], mapping: CsvMapping) -> None:
    missing = [c for c in mapping.required_columns() if c not in header]
    if missing:
        raise CsvFileError(
            f"{path}: the header lacks the column(s) {', '.join(map(repr, missing))} that "
            f"the mapping {mapping.path.name} needs; nothing was imported. "
            f"Columns found: {', '.join(header)}")


def read_csv(path: Path | str, mapping: CsvMapping, *,
             on_bytes: Callable[[int], None] | None = None, encoding: str | None = None
             ) -> Iterator[Candidate | Problem]:
    """Candidates (or rejections) for the rows of `path`, streamed; `encoding`: the
    file's, if not the detected one."""
    rows = iter_rows(path, on_bytes=on_bytes, encoding=encoding)
    header = next(rows)
    assert isinstance(header, list)
    check_header(path, header, mapping)
    for item in rows:
        row_number, row = item  # type: ignore[misc]
        yield candidate_from_row(mapping, row_number, row)


def candidate_from_row(mapping: CsvMapping, row_number: int,
                       row: dict[str, str | None]) -> Candidate | Problem:
    if "\x00" in "".join(filter(None, row.values())):  # before any report quotes a cell
        nul = next(column for column, value in row.items() if value and "\x00" in value)
        return Problem("rejected", NUL_MESSAGE, row=row_number, field=nul)
    key_parts = [row.get(c) for c in mapping.key]
    if not all(key_parts):
        empty = [c for c, v in zip(mapping.key, key_parts, strict=True) if not v]
        return Problem("rejected", "the key column is empty", row=row_number,
                       field=empty[0])
    external_id = "|".join(key_parts)  # type: ignore[arg-type]
    notes: list[Problem] = []
    data: dict[str, Any] = {}
    for field_name, column in mapping.columns.items():
        value = row.get(column)
        separators = mapping.separators.get(field_name)
        if value and separators:
            value = next((v.strip() for v in re.split(f"[{re.escape(separators)}]", value)
                          if v.strip()), None)
        if value is not None:
            data[field_name] = value
    if "website" in data:
        data["website"] = normalise_website(data["website"])
    if mapping.kind_column:
        raw_kind = row.get(mapping.kind_column)
        kind = mapping.kind_values.get(raw_kind or "", raw_kind)
        if kind is None:
            return Problem("rejected", "no kind", row=row_number, external_id=external_id,
                           field=mapping.kind_column)
        data["kind"] = kind
    else:
        data["kind"] = mapping.kind
    try:
        position = _position(mapping, row)
    except PositionError as exc:
        column = next(iter(mapping.position.values()), None)
        if data["kind"] in LOCATED_KINDS:
            return Problem("rejected", str(exc), row=row_number, external_id=external_id,
                           field=column)
        notes.append(Problem("warning", f"{exc}; imported without a position",
                             row=row_number, external_id=external_id, field=column))
        position = None
    if position is not None:
        lon, lat, note = position
        data["lon"], data["lat"] = lon, lat
        if note:
            notes.append(Problem("warning", note, row=row_number, external_id=external_id,
                                 field=next(iter(mapping.position.values()))))
    tags = set(mapping.constant_tags)
    for rule in mapping.tag_rules:
        for part in _split(row.get(rule.column), rule.separator):
            tags.update(rule.values.get(part, []))
    if mapping.tags_column:
        tags.update(_split(row.get(mapping.tags_column), mapping.tags_separator))
    data["tags"] = sorted(tags)
    extra = {name: row.get(column) for name, column in mapping.extra_columns.items()
             if row.get(column)}
    return Candidate(external_id=external_id, data=data, raw=row, extra=extra,
                     row=row_number, notes=notes)


def _split(value: str | None, separators: str | None) -> list[str]:
    """The stripped, non-blank parts of a cell split on any of `separators`."""
    if not value:
        return []
    parts = re.split(f"[{re.escape(separators)}]", value) if separators else [value]
    return [p.strip() for p in parts if p.strip()]


def _position(mapping: CsvMapping, row: dict[str, str | None]
              ) -> tuple[float, float, str | None] | None:
    spec = mapping.position
    if not spec:
        return None
    if "wkt" in spec:
        point = parse_wkt_point(row.get(spec["wkt"]))
        if point is None:
            return None
        x, y, srid = point
        crs = f"EPSG:{srid}" if srid else spec.get("crs", "EPSG:4326")
    elif "x" in spec:
        x = parse_number(row.get(spec["x"]), spec["x"])
        y = parse_number(row.get(spec["y"]), spec["y"])
        if x is None or y is None:
            return None
        crs = spec.get("crs", "EPSG:2154")
    else:
        x = parse_number(row.get(spec["lon"]), spec["lon"])
        y = parse_number(row.get(spec["lat"]), spec["lat"])
        if x is None and y is None:
            return None
        if x is None or y is None:
            raise PositionError("only one of latitude and longitude is given")
        crs = "EPSG:4326"
    lon, lat = to_wgs84(x, y, crs)
    return check_lonlat(lon, lat, mapping.territory)
