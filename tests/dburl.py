"""The URL of pytest-django's test database, for child processes (Celery workers, web workers)."""

from __future__ import annotations

import os
from urllib.parse import quote, urlsplit, urlunsplit

from django.db import connection


def test_database_url() -> str:
    """DATABASE_URL with the test database's name in place of the configured one.

    Only the name changes, so a socket host given in the query string (the embedded PostgreSQL of
    `make test`) carries over.
    """
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/herald")
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(connection.settings_dict["NAME"], safe="")))


test_database_url.__test__ = False  # type: ignore[attr-defined]  # not a test despite its name
