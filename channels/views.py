"""Dispatch's pages: a campaign's Delivery panel (the current run's progress, polled while it
sends, and the run history), Settings › Channels and Settings › Delivery.

Each view checks the role, reads through channels.selectors or calls one channels.services
function, and renders.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import role_required
from accounts.roles import Perm
from campaigns.models import Campaign
from campaigns.views import _get_campaign, _is_htmx
from channels import display, selectors, services
from channels.forms import FrequencyCapsForm, ProviderForm, QuietHoursForm
from channels.models import FrequencyCap, ProviderConfig, QuietHours
from channels.providers import PROVIDERS
from config.errors import DomainError

# The event the progress panel's last poll sends, so the run history reloads once.
RUN_FINISHED_EVENT = "herald:run-finished"


# ----------------------------------------------------------------------------------------------
# The campaign page's Delivery panel
# ----------------------------------------------------------------------------------------------
def delivery_context(campaign: Campaign, *, runs_page: Any = 1) -> dict[str, Any]:
    """What the Delivery panel shows: the current (or latest) run's figures and a page of the
    run history."""
    run = selectors.current_run(campaign)
    progress = selectors.run_progress(run) if run is not None else None
    history = selectors.run_history(campaign, runs_page) if run is not None else None
    return {"campaign": campaign, "progress": progress, "history": history}


@role_required(Perm.VIEW)
@require_GET
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress panel alone: what it polls every 2 s while the run resolves or sends."""
    campaign = _get_campaign(request, pk)
    run = selectors.current_run(campaign)
    progress = selectors.run_progress(run) if run is not None else None
    response = render(
        request, "channels/_run_progress.html", {"campaign": campaign, "progress": progress}
    )
    if _is_htmx(request) and (progress is None or not progress.live):
        # The last poll: the history below shows the run's final figures too.
        response["HX-Trigger"] = RUN_FINISHED_EVENT
    return response


@role_required(Perm.VIEW)
@require_GET
def run_history(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _get_campaign(request, pk)
    return render(
        request,
        "channels/_run_history.html",
        {"campaign": campaign, "history": selectors.run_history(campaign, request.GET.get("page"))},
    )


# ----------------------------------------------------------------------------------------------
# Settings › Channels
# ----------------------------------------------------------------------------------------------
@role_required(Perm.MANAGE_SETTINGS)
@require_GET
def channel_settings(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "channels/settings_channels.html",
        {
            "statuses": selectors.channel_statuses(),
            "dry_run_channels": settings.HERALD_DRY_RUN_CHANNELS,
        },
    )


def _channel_or_404(channel: str) -> str:
    if channel not in PROVIDERS:
        raise Http404("Herald sends no messages on this channel.")
    return channel


@role_required(Perm.MANAGE_SETTINGS)
@require_http_methods(["GET", "POST"])
def provider_edit(request: HttpRequest, channel: str) -> HttpResponse:
    """GET: the form (with htmx and ?provider=, only the fields of that provider). POST: save."""
    _channel_or_404(channel)
    row = ProviderConfig.objects.select_related("updated_by").filter(channel=channel).first()
    choices = services.provider_choices(channel)
    environment = settings.HERALD_PROVIDERS.get(channel, {})
    if request.method == "POST":
        posted = request.POST.get("provider", "")
        form = ProviderForm(
            request.POST,
            channel=channel,
            provider=posted if posted in choices else "",
            row=row,
            environment=environment,
        )
        if form.is_valid():
            try:
                saved = services.provider_config_update(
                    actor=request.user, channel=channel, **form.service_kwargs()
                )
            except DomainError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _saved_message(channel, saved))
                return redirect("channels_settings:list")
        retype = [
            s.label
            for s in services.settings_for(channel, form.selected)
            if s.secret and request.POST.get(s.name, "").strip()
        ]
        return _render_provider(request, form, channel, row, status=400, retype=retype)
    asked = request.GET.get("provider")
    provider = asked if asked in choices else (row.provider if row is not None else "")
    form = ProviderForm(channel=channel, provider=provider, row=row, environment=environment)
    if _is_htmx(request) and asked is not None:
        return render(request, "channels/_provider_fields.html", {"form": form})
    return _render_provider(request, form, channel, row)


def _render_provider(
    request: HttpRequest,
    form: ProviderForm,
    channel: str,
    row: ProviderConfig | None,
    *,
    status: int = 200,
    retype: list[str] | None = None,
) -> HttpResponse:
    return render(
        request,
        "channels/settings_provider.html",
        {
            "form": form,
            # Secrets typed into a form that failed: they are not sent back, so typed again.
            "retype": retype or [],
            "channel": channel,
            "channel_label": display.channel_label(channel),
            "status": selectors.channel_status(channel, row),
            "row": row,
        },
        status=status,
    )


def _saved_message(channel: str, row: ProviderConfig) -> str:
    label = display.channel_label(channel)
    if not row.provider:
        return f"{label} uses the environment's configuration again."
    return f"{label} now sends with {display.provider_label(channel, row.provider)}."


# ----------------------------------------------------------------------------------------------
# Settings › Delivery
# ----------------------------------------------------------------------------------------------
def _caps() -> dict[str, FrequencyCap]:
    return {cap.channel: cap for cap in FrequencyCap.objects.all()}


def _render_delivery(
    request: HttpRequest,
    *,
    caps_form: FrequencyCapsForm | None = None,
    quiet_form: QuietHoursForm | None = None,
    status: int = 200,
) -> HttpResponse:
    quiet = QuietHours.current()
    return render(
        request,
        "channels/settings_delivery.html",
        {
            "caps_form": caps_form or FrequencyCapsForm(caps=_caps()),
            "quiet_form": quiet_form or QuietHoursForm(quiet=quiet),
            "quiet": quiet,
            "quiet_channels": [display.channel_label(c) for c in quiet.channels],
        },
        status=status,
    )


@role_required(Perm.MANAGE_SETTINGS)
@require_GET
def delivery_settings(request: HttpRequest) -> HttpResponse:
    return _render_delivery(request)


@role_required(Perm.MANAGE_SETTINGS)
@require_POST
def caps_update(request: HttpRequest) -> HttpResponse:
    form = FrequencyCapsForm(request.POST, caps=_caps())
    if form.is_valid():
        try:
            services.frequency_caps_update(actor=request.user, caps=form.service_caps())
        except DomainError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "Frequency caps saved.")
            return redirect("channels_settings:delivery")
    return _render_delivery(request, caps_form=form, status=400)


@role_required(Perm.MANAGE_SETTINGS)
@require_POST
def cap_remove(request: HttpRequest, channel: str) -> HttpResponse:
    _channel_or_404(channel)
    try:
        removed = services.frequency_cap_remove(actor=request.user, channel=channel)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        label = display.channel_label(channel)
        if removed:
            messages.success(request, f"{label} has no frequency cap now.")
        else:
            messages.info(request, f"{label} had no frequency cap.")
    return redirect("channels_settings:delivery")


@role_required(Perm.MANAGE_SETTINGS)
@require_POST
def quiet_hours_update(request: HttpRequest) -> HttpResponse:
    form = QuietHoursForm(request.POST, quiet=QuietHours.current())
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.quiet_hours_update(
                actor=request.user,
                enabled=data["enabled"],
                start=data["start"],
                end=data["end"],
                channels=data["channels"],
            )
        except DomainError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "Quiet hours saved.")
            return redirect("channels_settings:delivery")
    return _render_delivery(request, quiet_form=form, status=400)
