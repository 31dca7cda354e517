"""The campaign page's Delivery panel, rendered with the page (templates/channels/_delivery.html)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("channels/_delivery.html", takes_context=True)
def delivery_panel(context: template.Context, campaign: Any) -> dict[str, Any]:
    from channels.views import delivery_context

    request = context.get("request")
    page = request.GET.get("runs", 1) if request is not None else 1
    return {**delivery_context(campaign, runs_page=page), "request": request}
