"""Settings › Channels and Settings › Delivery (mounted under /settings/channels/)."""

from django.urls import path

from channels import views

app_name = "channels_settings"

urlpatterns = [
    path("", views.channel_settings, name="list"),
    path("delivery/", views.delivery_settings, name="delivery"),
    path("delivery/caps/", views.caps_update, name="caps"),
    path("delivery/caps/<str:channel>/remove/", views.cap_remove, name="cap_remove"),
    path("delivery/quiet-hours/", views.quiet_hours_update, name="quiet_hours"),
    path("<str:channel>/", views.provider_edit, name="edit"),
]
