"""The labels CSV: RFC 4180, UTF-8, safe to open in a spreadsheet, streamed row by row."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from defusedcsv import csv

from labels.selectors import labels_with_counts

HEADER = ("name", "campaigns", "created_by", "created_at")
# defusedcsv neutralises cells starting with = + - @ | %; a leading tab or carriage return can also
# smuggle a formula into some spreadsheets (OWASP's list), so those get the same quote prefix.
_ALSO_NEUTRALISE = ("\t", "\r")


class _Line:
    """A file-like object whose write() hands back the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_ALSO_NEUTRALISE):
        return "'" + value
    return value


def csv_lines(rows: Iterable[Iterable[Any]], header: Iterable[str] = HEADER) -> Iterator[str]:
    """CSV lines (CRLF-terminated, quoted where needed) for rows, one at a time."""
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield "\ufeff"  # a byte-order mark, so spreadsheet programs read the file as UTF-8
    yield writer.writerow(list(header))
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


def label_rows() -> Iterator[tuple[Any, ...]]:
    """One row per label, read from a server-side cursor so memory stays flat at any size."""
    qs = labels_with_counts().values_list(
        "name", "campaigns_count", "created_by__email", "created_at"
    )
    for name, count, creator, created_at in qs.iterator(chunk_size=2000):
        yield name, count, creator or "", created_at.isoformat(timespec="seconds")
