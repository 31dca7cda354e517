from rest_framework.pagination import CursorPagination as BaseCursorPagination


class CursorPagination(BaseCursorPagination):
    """Keyset pagination: stable under inserts and as cheap on page 1,000 as on page 1."""

    ordering = ("-last_active_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
