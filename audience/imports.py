"""The CSV import of profiles from the dashboard: check the file, keep it, import it in chunks.

A file is checked whole before anything is queued (size, UTF-8, a header row with an identity
column, at least one row, known types), so a bad file is refused with a message and nothing is
stored. A good one is kept on a ProfileImport row and a Celery task imports it CHUNK_ROWS rows
at a time through audience.services.profiles_upsert, the same validation the ingestion API
applies. Each chunk commits together with the import's counters, so the page's progress bar moves
as chunks land, and a task that dies part-way resumes after the last committed chunk.

Columns: identity (required), email, phone, timezone, email_consent, sms_consent,
whatsapp_consent; any other column is a custom property. A property's type is the type of its
PropertyDefinition when it has one; otherwise the header may say it (`age:number`,
`signup_date:date`, `vip:boolean`, `tags:list`), and a property without either is text. Empty
cells are left out: an import adds and changes values, it never blanks them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audience.models import Consent, ImportStatus, ProfileImport, PropertyDefinition, PropertyType
from audience.services import profiles_upsert
from audience.tasks import import_profiles
from config.errors import Invalid, NotFound

logger = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 10 * 1024 * 1024
# Rejected rows kept for the report; the counters count them all.
MAX_IMPORT_ERRORS = 1000
CHUNK_ROWS = 1000
MAX_COLUMNS = 200
MAX_PROPERTY_NAME = 120  # PropertyDefinition.name
LIST_SEPARATOR = "|"
SOURCE = "csv"

# Header (lower-cased) -> the profile field it fills.
FIELD_COLUMNS = {
    "identity": "identity",
    "user_id": "identity",
    "email": "email",
    "e-mail": "email",
    "phone": "phone",
    "phone_number": "phone",
    "timezone": "timezone",
    "time_zone": "timezone",
    "email_consent": "email_consent",
    "sms_consent": "sms_consent",
    "whatsapp_consent": "whatsapp_consent",
}
CONSENT_FIELDS = ("email_consent", "sms_consent", "whatsapp_consent")
# A consent cell: opted in, opted out, or (blank, "unknown") left as it is.
CONSENT_WORDS = {
    **{word: Consent.OPTED_IN.value for word in ("opted_in", "yes", "y", "true", "1", "in")},
    **{word: Consent.OPTED_OUT.value for word in ("opted_out", "no", "n", "false", "0", "out")},
    "unknown": None,
}
TRUE_WORDS = ("true", "yes", "y", "1")
FALSE_WORDS = ("false", "no", "n", "0")
_INTEGER = re.compile(r"[+-]?\d+")
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class Column:
    index: int
    header: str  # as written in the file
    field: str  # a profile field, or "properties"
    name: str  # the property's name (the field's, for profile fields)
    type: str  # the property's type; "" for profile fields
    declared: bool = False  # the header says the type (`age:number`)


@dataclass(frozen=True)
class CsvLayout:
    """What checking a file found: how to read it, and how many rows it has."""

    delimiter: str
    columns: tuple[Column, ...]
    total_rows: int


# ---------------------------------------------------------------------------------------------
# Reading and checking a file
# ---------------------------------------------------------------------------------------------
def _refuse(message: str) -> Invalid:
    return Invalid(message, errors={"file": [message]})


def _text(content: bytes) -> str:
    if not content.strip():
        raise _refuse("The file is empty.")
    if b"\x00" in content[:65536]:
        raise _refuse("This is not a CSV file (it holds binary data); export it as CSV (UTF-8).")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse(
            "The file is not UTF-8 text; save it as “CSV UTF-8” and upload it again."
        ) from None


def _delimiter(text: str) -> str:
    """Comma, unless the header row is clearly split by semicolons or tabs (spreadsheets in some
    locales save CSV with semicolons)."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _reader(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """The file's rows, header first, each with its number as a spreadsheet shows it (from 1,
    blank rows counted), skipping blank rows and rows of empty cells."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, row in enumerate(reader, start=1):
            if any(cell.strip() for cell in row):
                yield number, row
    except csv.Error as exc:
        raise _refuse(f"Line {reader.line_num} cannot be read as CSV ({exc}).") from None


def _column(index: int, raw: str, definitions: dict[str, str]) -> Column:
    header = raw.strip()
    if not header:
        raise _refuse(f"Column {index + 1} has no name in the header row.")
    known = FIELD_COLUMNS.get(header.lower())
    if known:
        return Column(index, header, known, known, "")
    name, declared = header, ""
    if ":" in header:
        before, _, after = header.rpartition(":")
        if after.strip().lower() in PropertyType.values:
            name, declared = before.strip(), after.strip().lower()
    if not name or len(name) > MAX_PROPERTY_NAME:
        raise _refuse(
            f"Column {index + 1} (“{header[:60]}”): a property name has 1 to "
            f"{MAX_PROPERTY_NAME} characters."
        )
    existing = definitions.get(name)
    if existing and declared and existing != declared:
        raise _refuse(
            f"Column “{header}” says {declared}, but {name} is a {existing} property already."
        )
    kind = existing or declared or PropertyType.STRING
    return Column(index, header, "properties", name, kind, declared=bool(declared))


def _columns(header: list[str]) -> tuple[Column, ...]:
    if len(header) > MAX_COLUMNS:
        raise _refuse(f"The file has {len(header)} columns; an import takes at most {MAX_COLUMNS}.")
    names = [cell.strip() for cell in header]
    typed = [n.rpartition(":")[0].strip() if ":" in n else n for n in names]
    definitions = dict(
        PropertyDefinition.objects.filter(name__in=names + typed).values_list("name", "type")
    )
    columns = tuple(_column(i, raw, definitions) for i, raw in enumerate(header))
    seen: dict[tuple[str, str], str] = {}
    for column in columns:
        key = (column.field, column.name)
        if key in seen:
            raise _refuse(f"The columns “{seen[key]}” and “{column.header}” fill the same field.")
        seen[key] = column.header
    if not any(c.field == "identity" for c in columns):
        raise _refuse(
            "The file has no identity column. Its first row must name the columns: identity "
            "(the app's user id), then e.g. email, phone, timezone and any custom properties."
        )
    return columns


def too_big_message(size: int) -> str:
    return (
        f"The file is {size / 1024 / 1024:.1f} MB; an import takes at most "
        f"{MAX_IMPORT_BYTES // 1024 // 1024} MB. Split it into smaller files."
    )


def check_file(content: bytes) -> CsvLayout:
    """Read the whole file once: Invalid (with a message for the `file` field) unless it is a
    UTF-8 CSV under MAX_IMPORT_BYTES with a header row naming an identity column and at least
    one row under it."""
    if len(content) > MAX_IMPORT_BYTES:
        raise _refuse(too_big_message(len(content)))
    text = _text(content)
    delimiter = _delimiter(text)
    rows = _reader(text, delimiter)
    first = next(rows, None)
    if first is None:
        raise _refuse("The file is empty.")
    columns = _columns(first[1])
    total = sum(1 for _ in rows)
    if not total:
        raise _refuse("The file has a header row but no rows under it.")
    return CsvLayout(delimiter, columns, total)


# ---------------------------------------------------------------------------------------------
# Rows to records
# ---------------------------------------------------------------------------------------------
def _typed(value: str, kind: str) -> Any:
    """The cell as a value of the property's type; ValueError (with the reason) when it is not."""
    if kind == PropertyType.NUMBER:
        if _INTEGER.fullmatch(value):
            return int(value)
        number = float(value)
        if not math.isfinite(number):
            raise ValueError
        return number
    if kind == PropertyType.BOOLEAN:
        word = value.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError
    if kind == PropertyType.LIST:
        return [item.strip() for item in value.split(LIST_SEPARATOR) if item.strip()]
    return value


TYPE_HINTS = {
    PropertyType.NUMBER: "a number, such as 42 or 3.5",
    PropertyType.BOOLEAN: "true or false (yes / no, 1 / 0)",
}


def row_record(
    row: list[str], columns: tuple[Column, ...]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The profiles_upsert record a row makes, and the errors found on the way (cells that are
    not of their column's type, a row with more cells than the header has columns)."""
    errors: dict[str, list[str]] = {}
    if len(row) > len(columns) and any(cell.strip() for cell in row[len(columns) :]):
        errors["row"] = [f"The row has {len(row)} cells; the header has {len(columns)} columns."]
    record: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    consent: dict[str, str] = {}
    for column in columns:
        value = row[column.index].strip() if column.index < len(row) else ""
        if not value:
            continue
        if column.field in CONSENT_FIELDS:
            choice = CONSENT_WORDS.get(value.lower(), value)
            if choice is not None:
                consent[column.field.removesuffix("_consent")] = choice
        elif column.field != "properties":
            record[column.field] = value
        else:
            try:
                properties[column.name] = _typed(value, column.type)
            except ValueError:
                hint = TYPE_HINTS.get(column.type, column.type)
                errors[column.header] = [f"“{value[:60]}” is not {hint}."]
    if properties:
        record["properties"] = properties
    if consent:
        record["consent"] = consent
    return record, errors


def _error(row_number: int, record: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    return {"row": row_number, "identity": str(record.get("identity", "")), "errors": errors}


# ---------------------------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------------------------
def profile_import_create(*, actor: Any, file_name: str, content: bytes) -> ProfileImport:
    """Check the file and keep it as a queued import (nothing is queued to a worker: see
    profile_import_start). Invalid, with nothing stored, when the file is refused."""
    layout = check_file(content)
    return ProfileImport.objects.create(
        created_by=actor,
        file_name=(file_name or "profiles.csv")[:255],
        content=content,
        total_rows=layout.total_rows,
    )


def profile_import_start(*, actor: Any, file_name: str, content: bytes) -> ProfileImport:
    """Check and keep the file, and queue its import once the row is committed."""
    with transaction.atomic():
        job = profile_import_create(actor=actor, file_name=file_name, content=content)
        transaction.on_commit(lambda: import_profiles.delay(job.pk))
    return job


def _claim(import_id: int) -> ProfileImport | None:
    """Mark the import running (first delivery, or a redelivery after a crash); None when it is
    finished already or gone."""
    with transaction.atomic():
        job = ProfileImport.objects.select_for_update().filter(pk=import_id).first()
        if job is None or job.status in (ImportStatus.DONE, ImportStatus.FAILED):
            return None
        job.progressed_at = timezone.now()
        if job.status == ImportStatus.QUEUED:
            job.status = ImportStatus.RUNNING
            job.started_at = job.progressed_at
        job.save(update_fields=["status", "started_at", "progressed_at"])
        return job


def _import_chunk(
    import_id: int, first: int, rows: list[tuple[int, list[str]]], columns: tuple[Column, ...]
) -> None:
    """Upsert one chunk (the file's rows first .. first + len(rows) - 1, counted from 0 under the
    header) and move the counters, in one transaction; a chunk an earlier delivery already
    committed is skipped."""
    with transaction.atomic():
        job = ProfileImport.objects.select_for_update().get(pk=import_id)
        if job.status != ImportStatus.RUNNING or job.processed_rows > first:
            return
        records: list[dict[str, Any]] = []
        numbers: list[int] = []
        errors: list[dict[str, Any]] = []
        for number, row in rows:
            record, problems = row_record(row, columns)
            if problems:
                errors.append(_error(number, record, problems))
            else:
                records.append(record)
                numbers.append(number)
        result = profiles_upsert(records, source=SOURCE) if records else None
        rejected = list(result.rejected) if result else []
        for item in rejected:
            index = item["index"]
            errors.append(_error(numbers[index], records[index], item["errors"]))
        errors.sort(key=lambda e: e["row"])
        room = max(MAX_IMPORT_ERRORS - len(job.errors), 0)
        ProfileImport.objects.filter(pk=import_id).update(
            processed_rows=F("processed_rows") + len(rows),
            accepted_rows=F("accepted_rows") + len(records) - len(rejected),
            rejected_rows=F("rejected_rows") + len(errors),
            errors=[*job.errors, *errors[:room]],
            progressed_at=timezone.now(),
        )


def _define_properties(columns: tuple[Column, ...]) -> None:
    """Properties new to Herald whose column says a type are defined with it before any value
    arrives (profiles_upsert would otherwise infer it from the first value: "0042" as text)."""
    declared = [
        PropertyDefinition(name=c.name, type=c.type)
        for c in columns
        if c.field == "properties" and c.declared
    ]
    if declared:
        PropertyDefinition.objects.bulk_create(declared, ignore_conflicts=True)


def profile_import_run(*, import_id: int) -> ProfileImport | None:
    """Import the file of a queued (or interrupted) import, chunk by chunk; safe to run twice:
    committed chunks are never imported again, and a finished import is left alone."""
    job = _claim(import_id)
    if job is None:
        return None
    try:
        layout = check_file(bytes(job.content))
        _define_properties(layout.columns)
        rows = _reader(_text(bytes(job.content)), layout.delimiter)
        next(rows)  # the header
        chunk: list[tuple[int, list[str]]] = []
        first = 0
        for row in rows:
            chunk.append(row)
            if len(chunk) == CHUNK_ROWS:
                _import_chunk(import_id, first, chunk, layout.columns)
                first, chunk = first + CHUNK_ROWS, []
        if chunk:
            _import_chunk(import_id, first, chunk, layout.columns)
    except Invalid as exc:
        # The file was checked on upload; a property redefined since can still refuse it.
        _finish(import_id, ImportStatus.FAILED, exc.message)
    except Exception:
        logger.exception("Profile import %s stopped", import_id)
        _finish(import_id, ImportStatus.FAILED, "The import stopped on an unexpected error.")
        raise
    else:
        _finish(import_id, ImportStatus.DONE, "")
    return ProfileImport.objects.get(pk=import_id)


STALE_AFTER = dt.timedelta(minutes=10)


def profile_imports_requeue_stale(*, now: dt.datetime | None = None) -> list[int]:
    """Queue again the imports that show no sign of life for STALE_AFTER: their task message was
    lost (a broker flushed, say). Safe even if one is only slow: a second run skips every chunk the
    first committed, under the import's row lock."""
    cutoff = (now or timezone.now()) - STALE_AFTER
    stale = ProfileImport.objects.filter(
        Q(status=ImportStatus.QUEUED, created_at__lt=cutoff, progressed_at__isnull=True)
        | Q(status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING], progressed_at__lt=cutoff)
    )
    ids = list(stale.order_by("pk").values_list("pk", flat=True))
    for import_id in ids:
        import_profiles.delay(import_id)
    if ids:
        logger.warning("Queued stale profile imports again: %s", ids)
    return ids


def _finish(import_id: int, status: str, failure: str) -> None:
    ProfileImport.objects.filter(pk=import_id, status=ImportStatus.RUNNING).update(
        status=status, failure=failure, finished_at=timezone.now()
    )


def get_import(import_id: int) -> ProfileImport:
    job = ProfileImport.objects.select_related("created_by").defer("content")
    found = job.filter(pk=import_id).first()
    if found is None:
        raise NotFound(f"Import {import_id} does not exist.")
    return found


def error_rows(job: ProfileImport) -> Iterator[tuple[Any, ...]]:
    """The error report, one line per message: row, identity, column or field, message."""
    for item in job.errors if isinstance(job.errors, list) else []:
        for field_name, messages in (item.get("errors") or {}).items():
            for message in messages if isinstance(messages, list) else [messages]:
                yield item.get("row", ""), item.get("identity", ""), field_name, message


ERROR_HEADER = ("row", "identity", "column", "error")
