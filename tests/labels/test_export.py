"""The labels CSV: read back with Python's csv module as a spreadsheet would read it, and streamed
(one query through a server-side cursor; memory stays flat however many rows pass)."""

from __future__ import annotations

import csv
import datetime as dt
import inspect
import io
import tracemalloc
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from labels.export import HEADER, csv_lines, label_rows

pytestmark = pytest.mark.django_db


def read_back(lines: Iterable[str]) -> list[list[str]]:
    """The CSV as bytes on the wire, decoded and parsed the way a spreadsheet import would."""
    body = "".join(lines).encode("utf-8")
    assert body.startswith(b"\xef\xbb\xbf"), "no byte-order mark: Excel would guess the encoding"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def exported() -> dict[str, list[str]]:
    rows = read_back(csv_lines(label_rows()))
    assert rows[0] == list(HEADER)
    return {row[0]: row[1:] for row in rows[1:]}


def test_the_header_names_the_columns() -> None:
    assert read_back(csv_lines(label_rows())) == [["name", "campaigns", "created_by", "created_at"]]


def test_each_label_is_a_row_with_its_campaign_count_creator_and_creation_time(
    marketer, campaign_factory, label_factory
) -> None:
    onboarding = label_factory(name="Onboarding", created_by=marketer)
    unused = label_factory(name="Unused")
    active = [campaign_factory(), campaign_factory()]
    archived = campaign_factory(archived_at=timezone.now())
    for campaign in [*active, archived]:
        campaign.labels.add(onboarding)

    rows = exported()

    assert set(rows) == {"Onboarding", "Unused"}
    count, creator, created_at = rows["Onboarding"]
    assert count == "3"  # archived campaigns count too: deleting the label would touch them
    assert creator == "maya@example.com"
    assert dt.datetime.fromisoformat(created_at) == onboarding.created_at.replace(microsecond=0)
    assert rows["Unused"][:2] == ["0", ""]  # no known creator: an empty cell
    assert dt.datetime.fromisoformat(rows["Unused"][2]) == unused.created_at.replace(microsecond=0)


@pytest.mark.parametrize(
    "name",
    [
        "Score Updates",
        "Sale, 50 off",
        "  spaced  out  ",
        "Ünïcødé 🎉",
        "夏のセール",
        "عرض خاص",
        "a;b",
    ],
)
def test_names_come_back_exactly_as_stored(label_factory, name: str) -> None:
    label_factory(name=name)
    assert list(exported()) == [name]


@pytest.mark.parametrize(
    ("name", "cell"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("=HYPERLINK(x)", "'=HYPERLINK(x)"),
        ("+1 offers", "'+1 offers"),
        ("-Discount", "'-Discount"),
        ("@channel", "'@channel"),
        # The DDE payload shape; | is escaped too, so no pipe reaches another program.
        ("=cmd|' /C calc'A0", "'=cmd\\|' /C calc'A0"),
    ],
)
def test_formula_like_names_are_neutralised_with_a_leading_quote(
    label_factory, name: str, cell: str
) -> None:
    label_factory(name=name)
    assert list(exported()) == [cell]


def test_a_plain_negative_number_is_left_as_it_is(label_factory) -> None:
    # A number is not a formula: a spreadsheet shows -5, and runs nothing.
    label_factory(name="-5")
    assert list(exported()) == ["-5"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("\t=1+2", "'\t=1+2"),
        ("\tcmd", "'\tcmd"),
        ("\r=1+2", "'\r=1+2"),
        ('He said "hi"', 'He said "hi"'),
        ("two\r\nlines", "two\r\nlines"),
    ],
)
def test_cells_that_label_rules_would_refuse_are_still_written_safely(
    value: str, cell: str
) -> None:
    # Names cannot hold tabs, quotes or line breaks, but csv_lines is a general writer: a leading
    # tab or carriage return can smuggle a formula into some spreadsheets, and quotes and line
    # breaks must survive the round trip (RFC 4180 quoting).
    rows = read_back(csv_lines([[value, 1, "", "2025-01-01T00:00:00+00:00"]]))
    assert rows[1] == [cell, "1", "", "2025-01-01T00:00:00+00:00"]


def test_numbers_and_empty_creators_are_written_plainly() -> None:
    rows = read_back(csv_lines([["Promo", 0, "", "t"], ["Other", 12345, "x@y.z", "t"]]))
    assert rows[1:] == [["Promo", "0", "", "t"], ["Other", "12345", "x@y.z", "t"]]


def test_every_line_ends_with_crlf_and_the_file_starts_with_a_bom(label_factory) -> None:
    label_factory(name="Onboarding")
    label_factory(name="Sale, 50 off")
    lines = list(csv_lines(label_rows()))
    assert lines[0] == "\ufeff"
    assert len(lines) == 4
    assert all(line.endswith("\r\n") for line in lines[1:])
    body = "".join(lines[1:])
    assert body.count("\r\n") == 3 and body.count("\n") == 3
    assert '"Sale, 50 off"' in body


def test_label_rows_is_a_generator_that_reads_nothing_until_consumed(
    label_factory, django_assert_num_queries
) -> None:
    label_factory()
    with django_assert_num_queries(0):
        rows = label_rows()
    assert inspect.isgenerator(rows)
    with django_assert_num_queries(1):
        assert len(list(rows)) == 1


def test_label_rows_reads_one_query_for_many_labels(
    marketer, campaign_factory, label_factory, django_assert_num_queries
) -> None:
    labels = [label_factory(created_by=marketer) for _ in range(50)]
    campaign_factory().labels.add(*labels)
    with django_assert_num_queries(1):
        rows = list(label_rows())
    assert len(rows) == 50
    assert {row[1] for row in rows} == {1}


def test_label_rows_reads_through_a_server_side_cursor(label_factory) -> None:
    for i in range(3):
        label_factory(name=f"Label {i}")
    rows = label_rows()
    first = next(rows)
    # While the export is half-way, PostgreSQL holds an open cursor for it: rows arrive in
    # chunks rather than all at once.
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_cursors")
        statements = [row[0] for row in cursor.fetchall()]
    assert any("labels_label" in statement for statement in statements), statements
    assert [first[0], *(row[0] for row in rows)] == ["Label 0", "Label 1", "Label 2"]


def synthetic_rows(count: int) -> Iterator[tuple[Any, ...]]:
    for i in range(count):
        yield (
            f"Label {i:05d}, with a comma",
            i,
            f"creator{i % 20}@example.com",
            "2025-01-01T00:00:00",
        )


def peak_memory_writing(count: int) -> tuple[int, int]:
    """Bytes written and the peak of Python allocations while csv_lines writes `count` rows."""
    lines = csv_lines(synthetic_rows(count))
    tracemalloc.start()
    try:
        written = 0
        for line in lines:
            written += len(line.encode("utf-8"))  # as the response would send it, then drop it
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return written, peak


def test_twenty_thousand_rows_stream_in_flat_memory() -> None:
    small_written, small_peak = peak_memory_writing(2_000)
    written, peak = peak_memory_writing(20_000)
    assert written > 1_000_000 and written > 9 * small_written  # about 1.5 MB went through
    # A fixed overhead (the writer, a compiled pattern), nothing that grows with the rows.
    assert peak < 256 * 1024, f"peak {peak} bytes: the rows were gathered instead of streamed"
    assert peak < small_peak + 16 * 1024, (small_peak, peak)
