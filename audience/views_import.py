"""Import profiles from a CSV file: the upload form and the recent imports, one import's page with
its progress bar (htmx polls it every second until the import is finished) and its error report,
and the report as CSV.

Importing changes the audience every campaign reaches, so it takes the create permission (every
role that builds campaigns: Marketers, Approvers, Admins). The checks and the import itself are
audience.imports'; these views render them.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import role_required
from accounts.roles import Perm
from audience import imports
from audience.models import ImportStatus, ProfileImport
from config.errors import Invalid, NotFound
from labels.export import csv_lines

RECENT = 20
# The errors listed on the page; the CSV has all that are kept.
ERRORS_ON_PAGE = 100


def _job(pk: int) -> ProfileImport:
    try:
        return imports.get_import(pk)
    except NotFound:
        raise Http404("No such import.") from None


def _progress_context(job: ProfileImport) -> dict:
    total = job.total_rows or 0
    done = min(job.processed_rows, total) if total else 0
    return {
        "job": job,
        "percent": round(100 * done / total) if total else 0,
        "finished": job.status in (ImportStatus.DONE, ImportStatus.FAILED),
        "errors": job.errors[:ERRORS_ON_PAGE] if isinstance(job.errors, list) else [],
        "errors_on_page": ERRORS_ON_PAGE,
        "max_errors": imports.MAX_IMPORT_ERRORS,
    }


@role_required(Perm.CREATE)
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    """GET: the form and the recent imports. POST: check the file, keep it, queue its import and
    go to its page; a refused file is said so on this page, and nothing is kept."""
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error = "Choose a CSV file to import."
        elif upload.size and upload.size > imports.MAX_IMPORT_BYTES:
            error = imports.too_big_message(upload.size)
        else:
            try:
                job = imports.profile_import_start(
                    actor=request.user, file_name=upload.name or "", content=upload.read()
                )
            except Invalid as exc:
                error = exc.message
            else:
                messages.success(
                    request, f"“{job.file_name}” is being imported: {job.total_rows:,} rows."
                )
                return redirect("audience:import_detail", pk=job.pk)
    recent = ProfileImport.objects.select_related("created_by").defer("content", "errors")[:RECENT]
    return render(
        request,
        "audience/import.html",
        {
            "error": error,
            "recent": recent,
            "max_mb": imports.MAX_IMPORT_BYTES // 1024 // 1024,
            "chunk": imports.CHUNK_ROWS,
            "list_separator": imports.LIST_SEPARATOR,
        },
        status=400 if error else 200,
    )


@role_required(Perm.CREATE)
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "audience/import_detail.html", _progress_context(_job(pk)))


@role_required(Perm.CREATE)
@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress card alone, for htmx's polling; once the import is finished the card comes
    back without its polling trigger, so the polling stops."""
    return render(request, "audience/import_progress.html", _progress_context(_job(pk)))


@role_required(Perm.CREATE)
@require_GET
def import_errors_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    job = _job(pk)
    response = StreamingHttpResponse(
        csv_lines(imports.error_rows(job), header=imports.ERROR_HEADER),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    response["Cache-Control"] = "no-store"
    return response
