"""Cohorts: the retention table for a qualifying event (or "was sent a campaign labelled X", or
"was sent campaign C"), drawn as a heat map, and the same table as CSV. Every role may look.

The table is computed by audience.cohorts from the query string, which the form writes and the
CSV link repeats, so a table can be bookmarked and shared.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from accounts.decorators import role_required
from accounts.roles import Perm
from audience import cohorts
from audience.models import Segment
from config.errors import Invalid
from labels.export import csv_lines
from labels.models import Label

FIELDS = ("qualifying", "event", "label", "campaign", "segment", "return_event", "unit")


def _cell(returned: int | None, share: float | None, size: int) -> dict[str, Any]:
    if share is None:
        empty = "not reached yet" if returned is None else "no cohort"
        return {"text": "", "title": empty, "share": None}
    return {
        "text": f"{share * 100:.0f}%",
        "title": f"{returned} of {size} ({share * 100:.1f}%)",
        "share": f"{share:.3f}",
        "dark": share >= 0.55,
    }


def heat_rows(table: cohorts.CohortTable) -> list[dict[str, Any]]:
    """The table's rows as the heat map draws them: a text and a shade per cell."""
    rows = []
    for row in [*table.rows, table.total]:
        rows.append(
            {
                "date": row.date,
                "size": row.size,
                "total": row.date is None,
                "cells": [
                    _cell(back, share, row.size)
                    for back, share in zip(row.returned, row.share, strict=True)
                ],
            }
        )
    return rows


def _form(request: HttpRequest) -> dict[str, Any]:
    values = {name: request.GET.get(name, "") for name in FIELDS}
    values["qualifying"] = values["qualifying"] or "label"
    values["unit"] = values["unit"] or "day"
    end = cohorts.today()
    values["start"] = (
        request.GET.get("start")
        or (end - dt.timedelta(days=cohorts.DEFAULT_PERIOD_DAYS - 1)).isoformat()
    )
    values["end"] = request.GET.get("end") or end.isoformat()
    return values


@role_required(Perm.VIEW)
@require_GET
def cohort_page(request: HttpRequest) -> HttpResponse:
    """The form, and the table once the form has been sent (a table is never computed unasked)."""
    context: dict[str, Any] = {
        "form": _form(request),
        "labels": Label.objects.order_by("name").values_list("pk", "name"),
        "campaigns": cohorts.campaign_choices(),
        "segments": Segment.objects.order_by("name").values_list("pk", "name"),
        "event_names": cohorts.known_event_names(),
        "qualifying_choices": cohorts.QUALIFYING.items(),
        "errors": {},
        "max_period": cohorts.MAX_PERIOD_DAYS,
        "time_zone": settings.TIME_ZONE,
    }
    status = 200
    if any(name in request.GET for name in FIELDS):
        try:
            spec = cohorts.parse_spec(request.GET)
        except Invalid as exc:
            context["errors"] = exc.errors
            context["error_message"] = exc.message
            status = 400
        else:
            try:
                table = cohorts.cohort_table(spec)
            except cohorts.CohortTooSlow as exc:
                context["error_message"] = exc.message
                return render(request, "audience/cohorts.html", context, status=503)
            context.update(
                spec=spec,
                table=table,
                rows=heat_rows(table),
                described=cohorts.describe(spec),
                csv_url=f"{reverse('audience:cohorts_csv')}?{urlencode(spec.query())}",
            )
    return render(request, "audience/cohorts.html", context, status=status)


@role_required(Perm.VIEW)
@require_GET
def cohort_csv(request: HttpRequest) -> HttpResponse:
    try:
        table = cohorts.cohort_table(cohorts.parse_spec(request.GET))
    except (Invalid, cohorts.CohortTooSlow) as exc:
        messages.error(request, exc.message)
        return redirect(f"{reverse('audience:cohorts')}?{request.GET.urlencode()}")
    return csv_response(table)


def csv_response(table: cohorts.CohortTable) -> StreamingHttpResponse:
    """The table as a CSV attachment, named after what it measures."""
    spec = table.spec
    what = slugify(cohorts.describe(spec)["qualifying"])[:60] or "cohorts"
    filename = f"retention-{what}-{spec.unit}-{spec.start.isoformat()}-{spec.end.isoformat()}.csv"
    response = StreamingHttpResponse(
        csv_lines(cohorts.csv_rows(table), header=cohorts.csv_header(table)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
