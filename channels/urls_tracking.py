from django.urls import path

from channels import inbound, views_tracking

app_name = "channels_tracking"
urlpatterns = [
    path("o/<str:token>.gif", views_tracking.open_pixel, name="open"),
    path("c/<str:token>/", views_tracking.click, name="click"),
    path("u/<str:token>/", views_tracking.unsubscribe, name="unsubscribe"),
]

# Replies to SMS (STOP / START): Twilio's incoming-message webhook and a generic gateway's.
urlpatterns += [
    path("sms/twilio/inbound/", inbound.twilio_inbound, name="sms_twilio_inbound"),
    path("sms/inbound/", inbound.gateway_inbound, name="sms_inbound"),
]
