from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Model, Q, QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor
from rest_framework.pagination import CursorPagination as BaseCursorPagination
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param

BIGINT_MAX = 2**63 - 1


class CursorPagination(BaseCursorPagination):
    """Keyset pagination: stable under inserts and as cheap on page 1,000 as on page 1."""

    ordering = ("-last_active_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class KeysetPagination(CursorPagination):
    """Cursor pages keyed on every column of the ordering, not only the first.

    DRF's cursor remembers the first ordering column and an offset among rows sharing its value,
    which breaks down when many rows share it (a status, a name): past 1,000 ties the offset is
    capped and pages repeat. Here the cursor holds the whole key of the row it stops at, e.g.
    ("running", 4711) for ORDER BY status, id, and the next page is the rows after that key:

        status >= 'running' AND (status > 'running' OR (status = 'running' AND id > 4711))

    The first, redundant bound lets PostgreSQL start the index scan at the key. The ordering
    must end with a unique column and every column must be non-null; `get_ordering` says it.
    """

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        self.request = request
        self.page_size = self.get_page_size(request)
        if not self.page_size:
            return None
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)
        self.cursor = self.decode_cursor(request)
        reverse = bool(self.cursor and self.cursor.reverse)
        order = _reversed(self.ordering) if reverse else self.ordering
        queryset = queryset.order_by(*order)
        if self.cursor is not None and self.cursor.position is not None:
            key = self._decode_key(queryset.model, self.cursor.position)
            queryset = queryset.filter(_after(order, key))
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if reverse:
            rows.reverse()
        self.page = rows
        # Coming through a cursor means there are rows on the side we came from.
        came_by_cursor = self.cursor is not None
        self.has_next = came_by_cursor if reverse else more
        self.has_previous = more if reverse else came_by_cursor
        return rows

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.page:
            return None
        return self._link(self.page[-1], reverse=False)

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.page:
            # The rows around the cursor are gone: start again from the first page.
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self._link(self.page[0], reverse=True)

    def _link(self, row: Model, *, reverse: bool) -> str:
        key = [_jsonable(getattr(row, name.lstrip("-"))) for name in self.ordering]
        position = json.dumps(key, separators=(",", ":"))
        return self.encode_cursor(Cursor(offset=0, reverse=reverse, position=position))

    def _decode_key(self, model: type[Model], position: str) -> list[Any]:
        """The cursor's key, each value checked against its column: a tampered cursor is a 404
        like any other invalid cursor, never a database error."""
        try:
            values = json.loads(position)
            if not isinstance(values, list) or len(values) != len(self.ordering):
                raise ValueError
            key = []
            for name, value in zip(self.ordering, values, strict=True):
                field = model._meta.get_field(name.lstrip("-"))
                if isinstance(value, bool) or not isinstance(value, str | int):
                    raise ValueError
                parsed = field.to_python(value)
                if isinstance(parsed, int) and not 0 <= parsed <= BIGINT_MAX:
                    raise ValueError
                if isinstance(parsed, dt.datetime) and parsed.tzinfo is None:
                    raise ValueError
                if isinstance(parsed, str) and "\x00" in parsed:
                    raise ValueError
                key.append(parsed)
        except (ValueError, TypeError, ValidationError, FieldDoesNotExist):
            raise NotFound(self.invalid_cursor_message) from None
        return key


def _reversed(ordering: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name[1:] if name.startswith("-") else f"-{name}" for name in ordering)


def _after(ordering: tuple[str, ...], key: list[Any]) -> Q:
    """Rows strictly after `key` in `ordering` (a lexicographic comparison, column by column)."""
    names = [name.lstrip("-") for name in ordering]
    ops = ["lt" if name.startswith("-") else "gt" for name in ordering]
    after = Q()
    for i in range(len(names) - 1, -1, -1):
        here = Q(**{f"{names[i]}__{ops[i]}": key[i]})
        after = here if i == len(names) - 1 else here | (Q(**{names[i]: key[i]}) & after)
    bound = Q(**{f"{names[0]}__{ops[0]}e": key[0]})
    return bound & after


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value
