"""Find People: one search box (identity, e-mail or phone), the results, and a profile's page with
its properties, reachability per channel and its timeline of events. Every role may look.

The reads are audience.people's; these views only render them.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.decorators import role_required
from accounts.roles import Perm
from audience import people
from audience.models import Profile
from config.errors import Invalid


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@role_required(Perm.VIEW)
@require_GET
def people_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    result = people.search_profiles(query) if query.strip() else None
    return render(
        request,
        "audience/people.html",
        {"q": query.strip()[: people.MAX_QUERY], "result": result, "limit": people.SEARCH_LIMIT},
    )


def _profile(pk: int) -> Profile:
    profile = Profile.objects.filter(pk=pk).first()
    if profile is None:
        raise Http404("No such profile.")
    return profile


def _timeline(request: HttpRequest, profile: Profile) -> people.TimelinePage:
    try:
        return people.timeline(profile.pk, cursor=request.GET.get("before", ""))
    except Invalid as exc:
        messages.error(request, f"{exc.message} Showing the newest events.")
        return people.timeline(profile.pk)


@role_required(Perm.VIEW)
@require_GET
def profile_detail(request: HttpRequest, pk: int) -> HttpResponse:
    profile = _profile(pk)
    return render(
        request,
        "audience/people_detail.html",
        {
            "profile": profile,
            "properties": people.profile_properties(profile),
            "reach": people.reachability(profile),
            "page": _timeline(request, profile),
            "older": bool(request.GET.get("before")),
            "q": request.GET.get("q", "")[: people.MAX_QUERY],
        },
    )


@role_required(Perm.VIEW)
@require_GET
def profile_events(request: HttpRequest, pk: int) -> HttpResponse:
    """The next page of the timeline: list items for htmx's "Show older events", else the
    profile's page starting at that point."""
    profile = _profile(pk)
    if not _is_htmx(request):
        url = reverse("audience:profile", args=[profile.pk])
        before = request.GET.get("before", "")
        return redirect(f"{url}?{urlencode({'before': before})}" if before else url)
    return render(
        request,
        "audience/people_events.html",
        {"profile": profile, "page": _timeline(request, profile)},
    )
