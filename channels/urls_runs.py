"""A campaign's Delivery panel, polled by the campaign page (mounted under /campaigns/, next to
the campaign pages)."""

from django.urls import path

from channels import views

app_name = "runs"

urlpatterns = [
    path("<int:pk>/delivery/", views.run_progress, name="progress"),
    path("<int:pk>/delivery/runs/", views.run_history, name="history"),
]
