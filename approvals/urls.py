from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("<int:pk>/", views.request_detail, name="request"),
]
