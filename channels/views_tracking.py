"""The tracking doors in messages: the open pixel, the click redirect and the unsubscribe page.

No login: the signed token is the credential, and it only ever acts on its own profile. A bad
token records nothing; the pixel still answers with the image (a mail client must not show a
broken one), the other doors with a 400 page and never a redirect.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from audience.models import Profile
from channels import tracking

log = logging.getLogger(__name__)

# A 1x1 transparent GIF.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _invalid(request: HttpRequest) -> HttpResponse:
    response = render(request, "channels/tracking/invalid.html", status=400)
    add_never_cache_headers(response)
    return response


@require_safe
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    target = tracking.Tracker().read("open", token)
    if target is not None and request.method == "GET":
        try:
            tracking.record_open(target)
        except DatabaseError:
            # The image matters more to the reader than this one event.
            log.exception("Could not record an open for run %s", target.run_id)
    response = HttpResponse(PIXEL, content_type="image/gif")
    add_never_cache_headers(response)
    return response


@require_safe
def click(request: HttpRequest, token: str) -> HttpResponse:
    target = tracking.Tracker().read("click", token)
    if target is None:
        return _invalid(request)
    # Link checkers send HEAD; only a GET is someone following the link.
    if request.method == "GET":
        try:
            tracking.record_click(target)
        except DatabaseError:
            log.exception("Could not record a click for run %s", target.run_id)
    response = HttpResponseRedirect(target.url)
    add_never_cache_headers(response)
    return response


def mask_email(address: str) -> str:
    """a•••@example.com: enough for people to recognise their address, not for a stranger who
    was forwarded the e-mail to learn it."""
    local, at, domain = address.partition("@")
    if not at:
        return ""
    return f"{local[:1]}•••@{domain}"


# Mail providers POST "List-Unsubscribe=One-Click" (RFC 8058) with no CSRF token; unsubscribing is
# idempotent and only touches the token's profile, so this view alone is exempt.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    target = tracking.Tracker().read("unsubscribe", token)
    if target is None:
        return _invalid(request)
    if request.method == "POST":
        tracking.unsubscribe(target)
        response = render(request, "channels/tracking/unsubscribed.html")
    else:
        email = Profile.objects.filter(pk=target.profile_id).values_list("email", flat=True).first()
        response = render(
            request,
            "channels/tracking/unsubscribe.html",
            {"masked_email": mask_email(email or ""), "token": token},
        )
    add_never_cache_headers(response)
    return response
