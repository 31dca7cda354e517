from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("", views.queue_page, name="queue"),
    path("count/", views.queue_count, name="count"),
    path("<int:pk>/", views.request_detail, name="request"),
    path("<int:pk>/approve/", views.request_approve, name="approve"),
    path("<int:pk>/reject/", views.request_reject, name="reject"),
    path("<int:pk>/withdraw/", views.request_withdraw, name="withdraw"),
]
