"""Settings > Setup > Labels: every label with its campaigns count, search, sort, create, rename,
delete and the CSV export (Admins), and the live name check the label inputs of every page use.

Each view checks the role, calls one service or selector and renders; the naming rules come from
labels.rules and the writes from labels.services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import role_required
from accounts.roles import Perm
from config.errors import DomainError, NotFound
from labels import export, rules, selectors, services
from labels.forms import LabelNameForm, split_names
from labels.models import Label

# Column key (as in the query string) -> heading; the selector's SORTS says how each one sorts.
COLUMNS = (("name", "Name"), ("campaigns", "Campaigns"), ("created", "Created"))
MAX_QUERY = 64


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _list_url(request: HttpRequest) -> str:
    """Back to the list as the user left it (search and sort), from `next` when it is ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("labels:list")


def _report(request: HttpRequest, exc: DomainError) -> None:
    details = [m for msgs in exc.errors.values() for m in msgs if m != exc.message]
    messages.error(request, " ".join([exc.message, *details]))


def _row(pk: int) -> Label:
    """One label as a row of the table shows it (with its count); NotFound when it is gone."""
    label = selectors.labels_with_counts().filter(pk=pk).first()
    if label is None:
        raise NotFound(f"Label {pk} does not exist; it may have just been deleted.")
    return label


def _list_state(request: HttpRequest) -> QueryDict:
    """The list's query string: the request's own on the list, else the one `next` carries
    (a rename or create without JavaScript renders the list at another address)."""
    if request.path == reverse("labels:list"):
        return request.GET
    return QueryDict(urlsplit(_list_url(request)).query)


def _list_href(q: str, sort: str) -> str:
    params = {"q": q} if q else {}
    if sort != "name":
        params["sort"] = sort
    query = urlencode(params)
    return reverse("labels:list") + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    current: str  # "ascending" / "descending" / "" (for aria-sort)
    href: str  # the list sorted as a click on the heading asks


def _columns(q: str, sort: str) -> dict[str, Column]:
    columns = {}
    for key, title in COLUMNS:
        if sort == key:
            current, next_sort = "ascending", f"-{key}"
        elif sort == f"-{key}":
            current, next_sort = "descending", key
        else:
            # Counts and dates read best largest / newest first; names from A.
            current, next_sort = "", key if key == "name" else f"-{key}"
        columns[key] = Column(key, title, current, _list_href(q, next_sort))
    return columns


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------
def _render_list(
    request: HttpRequest,
    *,
    create_form: LabelNameForm | None = None,
    editing: int | None = None,
    rename_form: LabelNameForm | None = None,
) -> HttpResponse:
    state = _list_state(request)
    q = state.get("q", "").strip()[:MAX_QUERY]
    sort = state.get("sort", "name")
    sort = sort if sort in selectors.SORTS else "name"
    rows = list(selectors.labels_with_counts(q=q, sort=sort))
    # Without a search the rows are every label: no second query for the total.
    total = Label.objects.count() if q else len(rows)
    return render(
        request,
        "labels/list.html",
        {
            "rows": rows,
            "q": q,
            "sort": sort,
            "columns": _columns(q, sort),
            "list_url": _list_href(q, sort),
            "total": total,
            "max_labels": rules.MAX_LABELS,
            "at_limit": total >= rules.MAX_LABELS,
            "create_form": create_form or LabelNameForm(),
            "editing": editing,
            "rename_form": rename_form,
            "rules_text": rules.RULES_TEXT,
        },
    )


@role_required(Perm.MANAGE_SETTINGS)
@require_GET
def label_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


@role_required(Perm.MANAGE_SETTINGS)
@require_POST
def label_create(request: HttpRequest) -> HttpResponse:
    form = LabelNameForm(request.POST)
    if form.is_valid():
        try:
            label = services.label_create(actor=request.user, name=form.cleaned_data["name"])
        except DomainError as exc:
            for text in exc.errors.get("name") or [exc.message]:
                form.add_error("name", text)
        else:
            messages.success(request, f"Created the label “{label.name}”.")
            return redirect(_list_url(request))
    return _render_list(request, create_form=form)


@role_required(Perm.MANAGE_SETTINGS)
@require_GET
def label_row(request: HttpRequest, pk: int) -> HttpResponse:
    """The row as shown, for "Cancel" in its edit form."""
    try:
        label = _row(pk)
    except NotFound as exc:
        return _gone(request, exc)
    return render(request, "labels/_row.html", {"label": label, "list_url": _list_url(request)})


@role_required(Perm.MANAGE_SETTINGS)
@require_http_methods(["GET", "POST"])
def label_rename(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the row as an edit form. POST: rename, then the row again (or the form and why not).

    With htmx only the row is swapped; without it the whole page shows the row being edited.
    """
    try:
        label = _row(pk)
    except NotFound as exc:
        return _gone(request, exc)
    if request.method == "GET":
        form = LabelNameForm(initial={"name": label.name})
        if _is_htmx(request):
            return _render_row_edit(request, label, form)
        return _render_list(request, editing=label.pk, rename_form=form)

    form = LabelNameForm(request.POST)
    old = label.name
    if form.is_valid():
        try:
            services.label_rename(
                actor=request.user, label_id=label.pk, name=form.cleaned_data["name"]
            )
        except DomainError as exc:
            for text in exc.errors.get("name") or [exc.message]:
                form.add_error("name", text)
        else:
            label = _row(pk)
            note = f"Renamed from “{old}”." if label.name != old else "The name is unchanged."
            if _is_htmx(request):
                context = {"label": label, "note": note, "list_url": _list_url(request)}
                return render(request, "labels/_row.html", context)
            if label.name != old:
                messages.success(request, f"Renamed “{old}” to “{label.name}”.")
            return redirect(_list_url(request))
    if _is_htmx(request):
        return _render_row_edit(request, label, form)
    return _render_list(request, editing=label.pk, rename_form=form)


def _render_row_edit(request: HttpRequest, label: Label, form: LabelNameForm) -> HttpResponse:
    context = {"label": label, "form": form, "list_url": _list_url(request)}
    return render(request, "labels/_row_edit.html", context)


@role_required(Perm.MANAGE_SETTINGS)
@require_http_methods(["GET", "POST"])
def label_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: a confirmation saying how many campaigns carry the label. POST: delete it."""
    back = _list_url(request)
    if request.method == "GET":
        try:
            label = _row(pk)
        except NotFound as exc:
            return _gone(request, exc)
        context = {"label": label, "next": back, "in_dialog": _is_htmx(request)}
        template = "labels/_delete_confirm.html" if _is_htmx(request) else "labels/delete.html"
        return render(request, template, context)

    name = Label.objects.filter(pk=pk).values_list("name", flat=True).first()
    try:
        count = services.label_delete(actor=request.user, label_id=pk)
    except DomainError as exc:
        _report(request, exc)
        return redirect(back)
    where = (
        f"it was removed from {count} campaign{'s' if count != 1 else ''}"
        if count
        else ("no campaign carried it")
    )
    messages.success(request, f"Deleted the label “{name}”; {where}.")
    return redirect(back)


def _gone(request: HttpRequest, exc: NotFound) -> HttpResponse:
    """A label deleted meanwhile: say so on the list (the whole page, also from htmx)."""
    messages.error(request, exc.message)
    url = _list_url(request)
    if _is_htmx(request):
        return HttpResponse(headers={"HX-Redirect": url})
    return redirect(url)


@role_required(Perm.MANAGE_SETTINGS)
@require_GET
def label_export(request: HttpRequest) -> StreamingHttpResponse:
    """All labels as CSV, streamed: the rows are written while they are read."""
    filename = f"labels-{timezone.localdate().isoformat()}.csv"
    response = StreamingHttpResponse(
        export.csv_lines(export.label_rows()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------------------------------------
# The live name check
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Feedback:
    ok: bool
    text: str


PURPOSES = ("create", "rename", "apply", "list")
# The editor's "New labels" is checked up to this many names per keystroke.
MAX_CHECKED = 50
CHECKED_FIELDS = ("name", "new", "new_labels")


def name_feedback(raw: str, *, purpose: str, exclude: int | None = None) -> list[Feedback]:
    """What the inputs say as a name is typed, by what the name is for:

    create / rename: a name that exists is a problem; apply (the All Campaigns picker) and list
    (the editor's comma-separated names): an existing name is fine, that label is used.
    Two queries at most, however many names: the existing ones, and the count for the cap.
    """
    names = split_names(raw)[:MAX_CHECKED] if purpose == "list" else [raw.strip()]
    names = [name for name in names if name]
    if not names:
        return []
    fine = [name for name in names if not rules.name_problems(name)]
    existing = Label.objects.annotate(folded=Lower("name")).filter(
        folded__in=[name.lower() for name in fine]
    )
    if exclude is not None:
        existing = existing.exclude(pk=exclude)
    found = dict(existing.values_list("folded", "name")) if fine else {}

    feedback: list[Feedback] = []
    new_count = 0
    for name in names:
        prefix = f"“{name}”: " if purpose == "list" else ""
        problems = rules.name_problems(name)
        if problems:
            feedback.extend(Feedback(False, prefix + p) for p in problems)
            continue
        same = found.get(name.lower())
        if same is None:
            new_count += 1
            if purpose == "apply":
                feedback.append(Feedback(True, f"“{name}” is new: it will be created."))
            elif purpose == "list":
                feedback.append(Feedback(True, f"“{name}” will be created."))
        elif purpose in ("create", "rename"):
            feedback.append(
                Feedback(False, f"“{same}” already exists (names are compared ignoring case).")
            )
        elif purpose == "apply":
            feedback.append(Feedback(True, f"“{same}” exists: that label will be used."))
        else:
            feedback.append(Feedback(True, f"{prefix}the existing label “{same}” will be used."))
    if new_count and purpose != "rename":
        room = rules.MAX_LABELS - Label.objects.count()
        if new_count > room:
            feedback.append(
                Feedback(
                    False,
                    f"Herald keeps at most {rules.MAX_LABELS} labels; "
                    f"{'none is' if room <= 0 else f'only {room} more can be'} created.",
                )
            )
    return feedback


@role_required(Perm.CREATE)
@require_GET
def label_name_check(request: HttpRequest) -> HttpResponse:
    """The rules checked as the user types (htmx): problems, or what will happen to the name."""
    purpose = request.GET.get("purpose", "create")
    purpose = purpose if purpose in PURPOSES else "create"
    exclude = request.GET.get("label", "")
    # The typed text comes under its input's own name: the pages' inputs are "name" (this page),
    # "new" (the picker) and "new_labels" (the campaign editor); hx-vals says which.
    field = request.GET.get("field", "name")
    raw = request.GET.get(field if field in CHECKED_FIELDS else "name", "")[:1000]
    feedback = name_feedback(
        raw, purpose=purpose, exclude=int(exclude) if exclude.isdigit() else None
    )
    context: dict[str, Any] = {
        "feedback": feedback,
        "problems": [f for f in feedback if not f.ok],
        "purpose": purpose,
        "name": raw.strip(),
    }
    return render(request, "labels/_name_check.html", context)
